package authtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// TestSessions checks the session and refresh-token part of the auth.Store
// contract. open is as for TestStore.
func TestSessions(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Helper()
	ctx := t.Context()
	base := baseTime()

	newSession := func(t *testing.T, s auth.Store, u auth.User, id string, created time.Time) auth.Session {
		t.Helper()
		sess := auth.Session{ID: id, UserID: u.ID, CreatedAt: created, LastUsedAt: created,
			ExpiresAt: created.Add(30 * 24 * time.Hour), UserAgent: "curl/8.5", IP: "192.0.2.7"}
		if err := s.CreateSession(ctx, sess, "hash-"+id+"-0"); err != nil {
			t.Fatalf("CreateSession(%s): err = %v, want nil", id, err)
		}
		return sess
	}

	t.Run("a session round-trips", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "sess@example.com")
		want := newSession(t, s, u, "s1", base)
		got, err := s.SessionByID(ctx, "s1")
		if err != nil {
			t.Fatalf("SessionByID: err = %v, want nil", err)
		}
		checkSession(t, "SessionByID", got, want)
		if _, err := s.SessionByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByID(unknown): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("rotation spends the old token and accepts the new one", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "rot@example.com")
		want := newSession(t, s, u, "s1", base)
		later := base.Add(time.Hour)
		got, spent, err := s.RotateRefreshToken(ctx, "hash-s1-0", "hash-s1-1", later)
		if err != nil || !spent.IsZero() {
			t.Fatalf("RotateRefreshToken(first use): spent %v, err = %v, want nil", spent, err)
		}
		checkSession(t, "RotateRefreshToken", got, want)
		if sess, _ := s.SessionByID(ctx, "s1"); !sess.LastUsedAt.Equal(later) {
			checkTime(t, "LastUsedAt after rotation", sess.LastUsedAt, later)
		}
		got, spent, err = s.RotateRefreshToken(ctx, "hash-s1-0", "hash-s1-x", later.Add(time.Minute))
		if !errors.Is(err, auth.ErrTokenSpent) || got.ID != "s1" {
			t.Fatalf("RotateRefreshToken(spent): session %q, err = %v, want s1 and ErrTokenSpent", got.ID, err)
		}
		checkTime(t, "spent at", spent, later)
		if _, _, err := s.RotateRefreshToken(ctx, "hash-s1-1", "hash-s1-2", later.Add(2*time.Minute)); err != nil {
			t.Errorf("RotateRefreshToken(new token): err = %v, want nil", err)
		}
		if _, _, err := s.RotateRefreshToken(ctx, "hash-unknown", "hash-y", later); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RotateRefreshToken(unknown): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("concurrent rotations of one token: exactly one wins", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "race@example.com")
		newSession(t, s, u, "s1", base)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = s.RotateRefreshToken(ctx, "hash-s1-0", fmt.Sprintf("hash-s1-next-%d", i), base.Add(time.Second))
			})
		}
		wg.Wait()
		var won, spent int
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, auth.ErrTokenSpent):
				spent++
			default:
				t.Errorf("RotateRefreshToken #%d: err = %v, want nil or ErrTokenSpent", i, err)
			}
		}
		if won != 1 || spent != n-1 {
			t.Errorf("%d rotations won and %d found the token spent, want 1 and %d", won, spent, n-1)
		}
	})

	t.Run("listing and revoking", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "list@example.com")
		other := createUser(t, s, "other@example.com")
		newSession(t, s, u, "old", base)
		newSession(t, s, u, "mid", base.Add(time.Minute))
		newSession(t, s, u, "new", base.Add(2*time.Minute))
		newSession(t, s, other, "theirs", base)
		expired := auth.Session{ID: "expired", UserID: u.ID, CreatedAt: base, LastUsedAt: base, ExpiresAt: base.Add(time.Hour)}
		if err := s.CreateSession(ctx, expired, "hash-expired"); err != nil {
			t.Fatal(err)
		}
		now := base.Add(2 * time.Hour)
		checkIDs(t, s, u.ID, now, []string{"new", "mid", "old"})

		if err := s.RevokeSession(ctx, other.ID, "mid", now); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RevokeSession(another user's session): err = %v, want ErrNotFound", err)
		}
		if err := s.RevokeSession(ctx, u.ID, "mid", now); err != nil {
			t.Fatalf("RevokeSession: err = %v", err)
		}
		if err := s.RevokeSession(ctx, u.ID, "mid", now); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RevokeSession(twice): err = %v, want ErrNotFound", err)
		}
		if sess, err := s.SessionByID(ctx, "mid"); err != nil || sess.RevokedAt.IsZero() {
			t.Errorf("SessionByID(revoked): RevokedAt %v, err = %v, want it set", sess.RevokedAt, err)
		}
		checkIDs(t, s, u.ID, now, []string{"new", "old"})

		ids, err := s.RevokeUserSessions(ctx, u.ID, "new", now)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		// "expired" is not revoked yet, so it is revoked too; "mid" already was.
		if !slices.Equal(ids, []string{"expired", "old"}) {
			t.Errorf("RevokeUserSessions(except new) = %v, want [expired old]", ids)
		}
		checkIDs(t, s, u.ID, now, []string{"new"})
		checkIDs(t, s, other.ID, now, []string{"theirs"})
		if ids, err := s.RevokeUserSessions(ctx, u.ID, "", now); err != nil || !slices.Equal(ids, []string{"new"}) {
			t.Errorf("RevokeUserSessions(all) = %v, %v, want [new]", ids, err)
		}
		checkIDs(t, s, u.ID, now, nil)
	})

	t.Run("purge deletes expired sessions with their tokens", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "purge@example.com")
		live := newSession(t, s, u, "live", base)
		gone := auth.Session{ID: "gone", UserID: u.ID, CreatedAt: base, LastUsedAt: base, ExpiresAt: base.Add(time.Hour)}
		if err := s.CreateSession(ctx, gone, "hash-gone"); err != nil {
			t.Fatal(err)
		}
		if err := s.PurgeSessions(ctx, base.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByID(ctx, "gone"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByID(purged): err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.RotateRefreshToken(ctx, "hash-gone", "hash-gone-1", base.Add(2*time.Hour)); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RotateRefreshToken(purged session's token): err = %v, want ErrNotFound", err)
		}
		if _, err := s.SessionByID(ctx, live.ID); err != nil {
			t.Errorf("SessionByID(live): err = %v", err)
		}
	})
}

func checkIDs(t *testing.T, s auth.Store, userID int64, now time.Time, want []string) {
	t.Helper()
	list, err := s.Sessions(t.Context(), userID, now)
	if err != nil {
		t.Fatalf("Sessions: err = %v", err)
	}
	var got []string
	for _, sess := range list {
		got = append(got, sess.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Sessions(user %d) = %v, want %v (live, newest first)", userID, got, want)
	}
}

func checkSession(t *testing.T, op string, got, want auth.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.UserAgent != want.UserAgent || got.IP != want.IP {
		t.Errorf("%s = %+v, want %+v", op, got, want)
	}
	checkTime(t, op+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, op+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTime(t, op+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if !got.RevokedAt.IsZero() {
		t.Errorf("%s: RevokedAt = %v, want zero", op, got.RevokedAt)
	}
}
