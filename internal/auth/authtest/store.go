// Package authtest holds the conformance suites that every implementation of an
// auth contract runs, in the manner of testing/fstest.TestFS.
package authtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// Hashes are only stored, never checked, so any bcrypt-shaped string will do.
const (
	hashA = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	hashB = "$2b$12$KIXQJj6Ffe5B.p0hQ1R1eO4Fq8m0XhGQyq0Zt0bJrJc0d6VxYk1aK"
)

// baseTime is a whole second, so that the boundary cases below compare equal values
// on every backend whatever its sub-second precision.
func baseTime() time.Time { return time.Date(2030, time.March, 14, 15, 9, 26, 0, time.UTC) }

// TestStore checks that a Store meets the auth.Store contract. open must return a
// fresh, empty, migrated store and register its own cleanup with t.Cleanup; it is
// called once per subtest.
func TestStore(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Helper()
	ctx := t.Context()
	base := baseTime()

	t.Run("CreateUser assigns an ID and the user round-trips", func(t *testing.T) {
		s := open(t)
		// Not UTC, with nanoseconds: the store must keep the instant and return UTC.
		created := time.Date(2024, time.May, 17, 12, 30, 45, 987654321, time.FixedZone("CEST", 2*60*60))
		u := auth.User{Name: "Alice", Email: "alice@example.com", PasswordHash: hashA, CreatedAt: created}
		if err := s.CreateUser(ctx, &u); err != nil {
			t.Fatalf("CreateUser: err = %v, want nil", err)
		}
		if u.ID == 0 {
			t.Fatalf("CreateUser: ID = 0, want an assigned ID")
		}
		got, err := s.UserByEmail(ctx, u.Email)
		if err != nil {
			t.Fatalf("UserByEmail(%q): err = %v, want nil", u.Email, err)
		}
		checkUser(t, "UserByEmail", got, u)
		got, err = s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID(%d): err = %v, want nil", u.ID, err)
		}
		checkUser(t, "UserByID", got, u)

		v := auth.User{Name: "Bob", Email: "bob@example.com", PasswordHash: hashB, CreatedAt: base}
		if err := s.CreateUser(ctx, &v); err != nil {
			t.Fatalf("CreateUser(second): err = %v, want nil", err)
		}
		if v.ID == 0 || v.ID == u.ID {
			t.Errorf("CreateUser(second): ID = %d, want non-zero and not %d", v.ID, u.ID)
		}
	})

	t.Run("lookups of missing users return ErrNotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "alice@example.com")
		if _, err := s.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("UserByEmail(missing): err = %v, want ErrNotFound", err)
		}
		for _, id := range []int64{0, -1, u.ID + 1000} {
			if _, err := s.UserByID(ctx, id); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("UserByID(%d): err = %v, want ErrNotFound", id, err)
			}
		}
	})

	t.Run("duplicate email returns ErrEmailTaken", func(t *testing.T) {
		s := open(t)
		first := createUser(t, s, "alice@example.com")
		for _, email := range []string{"alice@example.com", "ALICE@Example.COM"} {
			dup := auth.User{Name: "Mallory", Email: email, PasswordHash: hashB, CreatedAt: base}
			if err := s.CreateUser(ctx, &dup); !errors.Is(err, auth.ErrEmailTaken) {
				t.Errorf("CreateUser(dup %q): err = %v, want ErrEmailTaken", email, err)
			}
		}
		got, err := s.UserByID(ctx, first.ID)
		if err != nil {
			t.Fatalf("UserByID(%d): err = %v, want nil", first.ID, err)
		}
		checkUser(t, "UserByID after duplicates", got, first)
	})

	t.Run("UserByEmail ignores case", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "alice@example.com")
		got, err := s.UserByEmail(ctx, "Alice@EXAMPLE.com")
		if err != nil {
			t.Fatalf("UserByEmail(mixed case): err = %v, want nil", err)
		}
		if got.ID != u.ID {
			t.Errorf("UserByEmail(mixed case): ID = %d, want %d", got.ID, u.ID)
		}
	})

	t.Run("long Unicode names, 254-character emails and far-future times round-trip", func(t *testing.T) {
		s := open(t)
		// 100 characters, the most a name may have, a quarter of them outside the
		// BMP (4 bytes in UTF-8; MySQL's utf8mb3 cannot store them).
		name := strings.Repeat("Zoë🦊", 25)
		// 254 characters, the most an address may have.
		email := strings.Repeat("x", 64) + "@" + strings.Repeat("y", 185) + ".com"
		// After 2038-01-19, where 32-bit Unix times (MySQL's TIMESTAMP) end.
		created := time.Date(2099, time.December, 31, 23, 59, 59, 0, time.UTC)
		u := auth.User{Name: name, Email: email, PasswordHash: hashA, CreatedAt: created}
		if err := s.CreateUser(ctx, &u); err != nil {
			t.Fatalf("CreateUser: err = %v, want nil", err)
		}
		got, err := s.UserByEmail(ctx, strings.ToUpper(email))
		if err != nil {
			t.Fatalf("UserByEmail(upper case): err = %v, want nil", err)
		}
		checkUser(t, "UserByEmail", got, u)
	})

	t.Run("UserByEmail matches whole addresses only", func(t *testing.T) {
		s := open(t)
		createUser(t, s, "alice@example.com")
		// LIKE wildcards, a prefix, and input no row can hold (not UTF-8, NUL):
		// each is simply not found, never another error.
		for _, email := range []string{"%@example.com", "_lice@example.com", "alice@example", "alice@example.com\x00", "\xff@example.com"} {
			if _, err := s.UserByEmail(ctx, email); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("UserByEmail(%q): err = %v, want ErrNotFound", email, err)
			}
		}
	})

	t.Run("SetPasswordHash replaces only that user's hash", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, "alice@example.com")
		other := createUser(t, s, "bob@example.com")
		if err := s.SetPasswordHash(ctx, u.ID, hashB); err != nil {
			t.Fatalf("SetPasswordHash: err = %v, want nil", err)
		}
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID(%d): err = %v, want nil", u.ID, err)
		}
		if got.PasswordHash != hashB {
			// Hashes are not secret in a test, but the message still does not print them.
			t.Errorf("UserByID after SetPasswordHash: hash unchanged, want the new one")
		}
		got, err = s.UserByID(ctx, other.ID)
		if err != nil {
			t.Fatalf("UserByID(%d): err = %v, want nil", other.ID, err)
		}
		if got.PasswordHash != hashA {
			t.Errorf("SetPasswordHash changed another user's hash")
		}
	})

	t.Run("SetPasswordHash on a missing user returns ErrNotFound", func(t *testing.T) {
		s := open(t)
		if err := s.SetPasswordHash(ctx, 4242, hashB); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetPasswordHash(missing): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("RevokeToken twice is not an error", func(t *testing.T) {
		s := open(t)
		r := auth.Revocation{JTI: "jti-1", ExpiresAt: base.Add(time.Hour), RevokedAt: base}
		for i := range 2 {
			if err := s.RevokeToken(ctx, r); err != nil {
				t.Fatalf("RevokeToken(#%d): err = %v, want nil", i+1, err)
			}
		}
		got, err := s.RevocationsSince(ctx, base, base)
		if err != nil {
			t.Fatalf("RevocationsSince: err = %v, want nil", err)
		}
		checkRevocations(t, "RevocationsSince", got, []auth.Revocation{r})
	})

	t.Run("RevocationsSince filters by since and by expiry", func(t *testing.T) {
		s := open(t)
		since, now := base, base.Add(10*time.Minute)
		all := map[string]auth.Revocation{
			"before-since":    {JTI: "before-since", RevokedAt: since.Add(-time.Second), ExpiresAt: now.Add(time.Hour)},
			"at-since":        {JTI: "at-since", RevokedAt: since, ExpiresAt: now.Add(time.Hour)},
			"after-since":     {JTI: "after-since", RevokedAt: since.Add(time.Minute), ExpiresAt: now.Add(time.Second)},
			"expired":         {JTI: "expired", RevokedAt: since.Add(time.Minute), ExpiresAt: now.Add(-time.Second)},
			"expires-at-now":  {JTI: "expires-at-now", RevokedAt: since.Add(time.Minute), ExpiresAt: now},
			"sub-second-live": {JTI: "sub-second-live", RevokedAt: since.Add(1500 * time.Millisecond), ExpiresAt: now.Add(2 * time.Second)},
		}
		for _, r := range all {
			revoke(t, s, r)
		}
		got, err := s.RevocationsSince(ctx, since, now)
		if err != nil {
			t.Fatalf("RevocationsSince: err = %v, want nil", err)
		}
		checkRevocations(t, "RevocationsSince", got, []auth.Revocation{all["at-since"], all["after-since"], all["sub-second-live"]})

		got, err = s.RevocationsSince(ctx, now.Add(time.Hour), now)
		if err != nil {
			t.Fatalf("RevocationsSince(future since): err = %v, want nil", err)
		}
		checkRevocations(t, "RevocationsSince(future since)", got, nil)
	})

	t.Run("PurgeRevocations deletes only expired revocations", func(t *testing.T) {
		s := open(t)
		now := base
		expired := auth.Revocation{JTI: "expired", RevokedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Second)}
		atNow := auth.Revocation{JTI: "expires-at-now", RevokedAt: now.Add(-time.Hour), ExpiresAt: now}
		live := auth.Revocation{JTI: "live", RevokedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
		for _, r := range []auth.Revocation{expired, atNow, live} {
			revoke(t, s, r)
		}
		if err := s.PurgeRevocations(ctx, now); err != nil {
			t.Fatalf("PurgeRevocations: err = %v, want nil", err)
		}
		// A "now" long before every expiry lists whatever rows remain.
		long := now.Add(-24 * time.Hour)
		got, err := s.RevocationsSince(ctx, long, long)
		if err != nil {
			t.Fatalf("RevocationsSince: err = %v, want nil", err)
		}
		checkRevocations(t, "RevocationsSince after purge", got, []auth.Revocation{atNow, live})
	})

	t.Run("Ping succeeds", func(t *testing.T) {
		s := open(t)
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: err = %v, want nil", err)
		}
	})

	t.Run("a cancelled context returns ErrUnavailable", func(t *testing.T) {
		s := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.UserByID(cctx, 1); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("UserByID(cancelled ctx): err = %v, want ErrUnavailable", err)
		}
		u := auth.User{Name: "Alice", Email: "alice@example.com", PasswordHash: hashA, CreatedAt: base}
		if err := s.CreateUser(cctx, &u); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("CreateUser(cancelled ctx): err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("concurrent CreateUser with one email admits exactly one", func(t *testing.T) {
		s := open(t)
		const n = 50
		start := make(chan struct{})
		errs := make([]error, n)
		ids := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := auth.User{Name: fmt.Sprintf("racer %d", i), Email: "race@example.com", PasswordHash: hashA, CreatedAt: base}
				<-start
				errs[i] = s.CreateUser(ctx, &u)
				ids[i] = u.ID
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("CreateUser(racer %d): err = nil, but racer %d already won; want ErrEmailTaken", i, winner)
			case err == nil:
				winner = i
			case !errors.Is(err, auth.ErrEmailTaken):
				t.Errorf("CreateUser(racer %d): err = %v, want nil or ErrEmailTaken", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("CreateUser: no racer succeeded, want exactly one")
		}
		got, err := s.UserByEmail(ctx, "race@example.com")
		if err != nil {
			t.Fatalf("UserByEmail: err = %v, want nil", err)
		}
		if got.ID != ids[winner] || got.Name != fmt.Sprintf("racer %d", winner) {
			t.Errorf("UserByEmail: got ID %d name %q, want the winner's: ID %d name %q", got.ID, got.Name, ids[winner], fmt.Sprintf("racer %d", winner))
		}
	})
}

// createUser stores a user with email and hashA, and returns it with its ID.
func createUser(t *testing.T, s auth.Store, email string) auth.User {
	t.Helper()
	name, _, _ := strings.Cut(email, "@")
	u := auth.User{Name: name, Email: email, PasswordHash: hashA, CreatedAt: baseTime()}
	if err := s.CreateUser(t.Context(), &u); err != nil {
		t.Fatalf("CreateUser(%q): err = %v, want nil", email, err)
	}
	return u
}

func revoke(t *testing.T, s auth.Store, r auth.Revocation) {
	t.Helper()
	if err := s.RevokeToken(t.Context(), r); err != nil {
		t.Fatalf("RevokeToken(%q): err = %v, want nil", r.JTI, err)
	}
}

// checkUser compares got with want, times at second precision.
func checkUser(t *testing.T, op string, got, want auth.User) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Email != want.Email {
		t.Errorf("%s: got ID %d name %q email %q, want ID %d name %q email %q",
			op, got.ID, got.Name, got.Email, want.ID, want.Name, want.Email)
	}
	if got.PasswordHash != want.PasswordHash {
		t.Errorf("%s: password hash differs from the one stored", op)
	}
	checkTime(t, op+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

// checkRevocations compares got with want regardless of order.
func checkRevocations(t *testing.T, op string, got, want []auth.Revocation) {
	t.Helper()
	byJTI := func(a, b auth.Revocation) int { return strings.Compare(a.JTI, b.JTI) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byJTI)
	slices.SortFunc(want, byJTI)
	if !slices.EqualFunc(got, want, func(a, b auth.Revocation) bool { return a.JTI == b.JTI }) {
		t.Errorf("%s: JTIs = %v, want %v", op, jtis(got), jtis(want))
		return
	}
	for i := range got {
		checkTime(t, op+": "+got[i].JTI+" ExpiresAt", got[i].ExpiresAt, want[i].ExpiresAt)
		checkTime(t, op+": "+got[i].JTI+" RevokedAt", got[i].RevokedAt, want[i].RevokedAt)
	}
}

func jtis(rs []auth.Revocation) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.JTI)
	}
	return out
}

// checkTime wants got in UTC and the same instant as want to within a second, which
// is the precision the contract promises; backends may truncate or round below it.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: location = %v, want UTC", what, got.Location())
	}
	if d := got.Sub(want).Abs(); d >= time.Second {
		t.Errorf("%s = %v, want %v (at second precision)", what, got, want.UTC())
	}
}
