package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	User         struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
}

func (s *testServer) loginPair(t testing.TB, email, pw string) tokenPair {
	t.Helper()
	var p tokenPair
	s.login(t, email, pw).decode(t, http.StatusOK, &p)
	return p
}

func (s *testServer) refresh(t testing.TB, rt string) response {
	t.Helper()
	return s.do(t, "POST", "/api/auth/refresh", jsonBody(t, map[string]string{"refresh_token": rt}), nil)
}

func (s *testServer) profileStatus(t testing.TB, tok string) int {
	t.Helper()
	return s.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)).status
}

// claims decodes a JWT's payload without verifying it (the server did).
func claims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func newUser(t testing.TB, s *testServer, email string) {
	t.Helper()
	s.register(t, "User", email, goodPassword).decode(t, http.StatusCreated, &map[string]any{})
}

func TestRefreshRotation(t *testing.T) { forEachStore(t, testRefreshRotation) }

func testRefreshRotation(t *testing.T, db map[string]string) {
	s := startServer(t, "", with(db, map[string]string{"REFRESH_REUSE_GRACE": "50ms"}))
	newUser(t, s, "rot@example.com")
	first := s.loginPair(t, "rot@example.com", goodPassword)
	if len(first.RefreshToken) < 43 {
		t.Fatalf("refresh_token %q: want at least 256 bits", first.RefreshToken)
	}
	sid, _ := claims(t, first.AccessToken)["sid"].(string)
	if sid == "" {
		t.Fatal("access token has no sid claim")
	}

	var second tokenPair
	resp := s.refresh(t, first.RefreshToken)
	resp.decode(t, http.StatusOK, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.TokenType != "Bearer" || second.User.Email != "rot@example.com" {
		t.Fatalf("POST /refresh = %s, want a new pair", resp.body)
	}
	if resp.header.Get("Cache-Control") != "no-store" {
		t.Errorf("POST /refresh: Cache-Control = %q, want no-store", resp.header.Get("Cache-Control"))
	}
	if claims(t, second.AccessToken)["sid"] != sid {
		t.Errorf("refreshed access token sid = %v, want %s", claims(t, second.AccessToken)["sid"], sid)
	}
	if s.profileStatus(t, second.AccessToken) != http.StatusOK {
		t.Fatal("refreshed access token refused")
	}

	// Reuse of the spent token after the grace window: the whole session ends.
	time.Sleep(100 * time.Millisecond)
	s.refresh(t, first.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	s.refresh(t, second.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	for name, tok := range map[string]string{"first": first.AccessToken, "second": second.AccessToken} {
		if st := s.profileStatus(t, tok); st != http.StatusUnauthorized {
			t.Errorf("GET /profile with the %s access token after reuse: status = %d, want 401", name, st)
		}
	}
	// Other sessions of the user are untouched.
	other := s.loginPair(t, "rot@example.com", goodPassword)
	if s.profileStatus(t, other.AccessToken) != http.StatusOK {
		t.Error("a new session after the reuse is refused")
	}

	for _, bad := range []string{"", "short", strings.Repeat("A", 43)} {
		r := s.refresh(t, bad)
		if r.status != http.StatusUnauthorized && r.status != http.StatusUnprocessableEntity {
			t.Errorf("POST /refresh %q: status = %d, want 401 or 422", bad, r.status)
		}
	}
}

// TestRefreshRace: two tabs refresh with one token at once. Exactly one gets a
// new pair; within the grace window the others get 401 and the session goes on.
func TestRefreshRace(t *testing.T) { forEachStore(t, testRefreshRace) }

func testRefreshRace(t *testing.T, db map[string]string) {
	s := startServer(t, "", db)
	newUser(t, s, "race@example.com")
	p := s.loginPair(t, "race@example.com", goodPassword)
	const n = 8
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = s.refresh(t, p.RefreshToken) })
	}
	wg.Wait()
	var winner tokenPair
	wins := 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			wins++
			if err := json.Unmarshal(r.body, &winner); err != nil {
				t.Fatal(err)
			}
		case http.StatusUnauthorized:
		default:
			t.Errorf("racing POST /refresh: status = %d, want 200 or 401", r.status)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing refreshes won, want exactly 1", wins)
	}
	if s.profileStatus(t, winner.AccessToken) != http.StatusOK {
		t.Error("the winner's access token is refused")
	}
	var next tokenPair
	s.refresh(t, winner.RefreshToken).decode(t, http.StatusOK, &next)
}

func TestSessionsListAndEnd(t *testing.T) { forEachStore(t, testSessionsListAndEnd) }

func testSessionsListAndEnd(t *testing.T, db map[string]string) {
	s := startServer(t, "", db)
	newUser(t, s, "list@example.com")
	newUser(t, s, "else@example.com")
	a := s.loginPair(t, "list@example.com", goodPassword)
	b := s.loginPair(t, "list@example.com", goodPassword)
	theirs := s.loginPair(t, "else@example.com", goodPassword)

	var list struct {
		Sessions []struct {
			ID         string    `json:"id"`
			CreatedAt  time.Time `json:"created_at"`
			LastUsedAt time.Time `json:"last_used_at"`
			UserAgent  string    `json:"user_agent"`
			IP         string    `json:"ip"`
			Current    bool      `json:"current"`
		} `json:"sessions"`
	}
	s.do(t, "GET", "/api/auth/sessions", "", bearerHdr(a.AccessToken)).decode(t, http.StatusOK, &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("GET /sessions: %d sessions, want 2", len(list.Sessions))
	}
	aSID, bSID := claims(t, a.AccessToken)["sid"], claims(t, b.AccessToken)["sid"]
	for _, se := range list.Sessions {
		if se.Current != (se.ID == aSID) || se.IP != "127.0.0.1" || se.UserAgent == "" || se.CreatedAt.IsZero() || se.LastUsedAt.IsZero() {
			t.Errorf("session %+v: want current only for %v, ip 127.0.0.1, a user agent and times", se, aSID)
		}
	}

	theirSID := claims(t, theirs.AccessToken)["sid"].(string)
	s.do(t, "DELETE", "/api/auth/sessions/"+theirSID, "", bearerHdr(a.AccessToken)).wantProblem(t, http.StatusNotFound, "not_found")
	s.do(t, "DELETE", "/api/auth/sessions/nope", "", bearerHdr(a.AccessToken)).wantProblem(t, http.StatusNotFound, "not_found")
	if r := s.do(t, "DELETE", "/api/auth/sessions/"+bSID.(string), "", bearerHdr(a.AccessToken)); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /sessions/{b}: status = %d, want 204", r.status)
	}
	if s.profileStatus(t, b.AccessToken) != http.StatusUnauthorized {
		t.Error("the ended session's access token still works")
	}
	s.refresh(t, b.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	if s.profileStatus(t, a.AccessToken) != http.StatusOK || s.profileStatus(t, theirs.AccessToken) != http.StatusOK {
		t.Error("ending one session ended another")
	}
	s.do(t, "GET", "/api/auth/sessions", "", bearerHdr(a.AccessToken)).decode(t, http.StatusOK, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ID != aSID {
		t.Errorf("GET /sessions after DELETE = %+v, want only the current one", list.Sessions)
	}
}

func TestLogoutScopes(t *testing.T) { forEachStore(t, testLogoutScopes) }

func testLogoutScopes(t *testing.T, db map[string]string) {
	s := startServer(t, "", db)
	newUser(t, s, "scope@example.com")
	login := func() tokenPair { return s.loginPair(t, "scope@example.com", goodPassword) }

	// Local (the default, also with no body): the session's refresh and access tokens end.
	a, b := login(), login()
	s.do(t, "POST", "/api/auth/logout", "", bearerHdr(a.AccessToken)).decode(t, http.StatusOK, &map[string]any{})
	s.refresh(t, a.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	if s.profileStatus(t, a.AccessToken) != http.StatusUnauthorized || s.profileStatus(t, b.AccessToken) != http.StatusOK {
		t.Error("local logout: want this session ended and the other alive")
	}

	// Others: every session but this one.
	c := login()
	s.do(t, "POST", "/api/auth/logout", `{"scope":"others"}`, bearerHdr(c.AccessToken)).decode(t, http.StatusOK, &map[string]any{})
	if s.profileStatus(t, b.AccessToken) != http.StatusUnauthorized || s.profileStatus(t, c.AccessToken) != http.StatusOK {
		t.Error("logout others: want the other session ended and this one alive")
	}
	s.refresh(t, b.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")

	// Global: all of them.
	d := login()
	s.do(t, "POST", "/api/auth/logout", `{"scope":"global"}`, bearerHdr(c.AccessToken)).decode(t, http.StatusOK, &map[string]any{})
	for name, p := range map[string]tokenPair{"c": c, "d": d} {
		if s.profileStatus(t, p.AccessToken) != http.StatusUnauthorized {
			t.Errorf("global logout: session %s's access token still works", name)
		}
		s.refresh(t, p.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	}
	e := login()
	s.do(t, "POST", "/api/auth/logout", `{"scope":"everything"}`, bearerHdr(e.AccessToken)).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
}

func TestPasswordChange(t *testing.T) { forEachStore(t, testPasswordChange) }

func testPasswordChange(t *testing.T, db map[string]string) {
	s := startServer(t, "", db)
	newUser(t, s, "pw@example.com")
	cur, other := s.loginPair(t, "pw@example.com", goodPassword), s.loginPair(t, "pw@example.com", goodPassword)
	const next = "a brand new passphrase"
	change := func(current, newPW string) response {
		return s.do(t, "PUT", "/api/auth/password", jsonBody(t, map[string]string{
			"current_password": s.seal(t, current), "new_password": s.seal(t, newPW)}), bearerHdr(cur.AccessToken))
	}
	change("not the password", next).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	p := change(goodPassword, "12345678").wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "new_password" {
		t.Errorf("weak new password: errors = %+v, want new_password", p.Errors)
	}
	if s.profileStatus(t, other.AccessToken) != http.StatusOK {
		t.Fatal("a refused change ended a session")
	}
	change(goodPassword, next).decode(t, http.StatusOK, &map[string]any{})
	if s.profileStatus(t, other.AccessToken) != http.StatusUnauthorized {
		t.Error("the other session's access token works after the password change")
	}
	s.refresh(t, other.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	if s.profileStatus(t, cur.AccessToken) != http.StatusOK {
		t.Error("the session that changed the password was ended")
	}
	var again tokenPair
	s.refresh(t, cur.RefreshToken).decode(t, http.StatusOK, &again)
	s.login(t, "pw@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	s.loginPair(t, "pw@example.com", next)
}

func TestSessionIdleTimeout(t *testing.T) { forEachStore(t, testSessionIdleTimeout) }

func testSessionIdleTimeout(t *testing.T, db map[string]string) {
	s := startServer(t, "", with(db, map[string]string{"SESSION_IDLE_TIMEOUT": "300ms"}))
	newUser(t, s, "idle@example.com")
	p := s.loginPair(t, "idle@example.com", goodPassword)
	time.Sleep(500 * time.Millisecond)
	s.refresh(t, p.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
}

func TestSessionMaxLifetime(t *testing.T) { forEachStore(t, testSessionMaxLifetime) }

func testSessionMaxLifetime(t *testing.T, db map[string]string) {
	s := startServer(t, "", with(db, map[string]string{"SESSION_MAX_LIFETIME": "400ms"}))
	newUser(t, s, "abs@example.com")
	p := s.loginPair(t, "abs@example.com", goodPassword)
	var q tokenPair
	s.refresh(t, p.RefreshToken).decode(t, http.StatusOK, &q) // in use, yet it ends
	time.Sleep(600 * time.Millisecond)
	s.refresh(t, q.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
}

// TestRevocationAcrossProcesses: two server processes on one database; a
// logout on A is honoured by B within a second, and after B restarts.
func TestRevocationAcrossProcesses(t *testing.T) { forEachStore(t, testRevocationAcrossProcesses) }

func testRevocationAcrossProcesses(t *testing.T, db map[string]string) {
	dir := t.TempDir()
	a, _ := startProcess(t, dir, db)
	b, _ := startProcess(t, dir, db)
	newUser(t, a, "two@example.com")
	p := a.loginPair(t, "two@example.com", goodPassword)
	if b.profileStatus(t, p.AccessToken) != http.StatusOK {
		t.Fatal("instance B refuses A's token before logout")
	}
	a.do(t, "POST", "/api/auth/logout", "", bearerHdr(p.AccessToken)).decode(t, http.StatusOK, &map[string]any{})
	loggedOut := time.Now()
	for b.profileStatus(t, p.AccessToken) != http.StatusUnauthorized {
		if time.Since(loggedOut) > time.Second {
			t.Fatal("instance B still accepts the token 1 s after logout on A")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.refresh(t, p.RefreshToken).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	b.stop()
	c, _ := startProcess(t, dir, db)
	if c.profileStatus(t, p.AccessToken) != http.StatusUnauthorized {
		t.Error("a restarted instance accepts the logged-out token")
	}
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
