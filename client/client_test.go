package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealauth/sealauth/client"
)

const (
	goodPassword  = "correct horse battery staple"
	otherPassword = "tr0mbone-Staple-orbit-9"
)

var userSeq atomic.Int64

// newEmail is an address no other test uses.
func newEmail() string {
	return fmt.Sprintf("user%d-%d@example.com", time.Now().UnixNano(), userSeq.Add(1))
}

func newClient(t *testing.T, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", s.URL, err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err is an *client.Error with code and status.
func wantCode(t *testing.T, what string, err error, code string, status int) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: err = %v, want *client.Error %s", what, err, code)
	}
	if !client.IsCode(err, code) || e.Status != status {
		t.Fatalf("%s: err = %v, want %d %s", what, err, status, code)
	}
	if e.RequestID == "" {
		t.Errorf("%s: RequestID empty, want the X-Request-Id", what)
	}
	return e
}

// noSecrets fails the test if err's text shows any of secrets.
func noSecrets(t *testing.T, what string, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q contains a secret", what, err)
		}
	}
}

func register(t *testing.T, ctx context.Context, c *client.Client, email, password string) client.User {
	t.Helper()
	u, err := c.Register(ctx, "Test User", email, password)
	if err != nil {
		t.Fatalf("Register(%s): %v", email, err)
	}
	return u
}

func login(t *testing.T, ctx context.Context, c *client.Client, email, password string) *client.Tokens {
	t.Helper()
	tok, err := c.Login(ctx, email, password)
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	return tok
}

// TestFlow walks the API as an app would: register, log in on two devices,
// look at the profile and the sessions, end one, change the password, and log
// out everywhere.
func TestFlow(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	phone := newClient(t, shared, client.WithUserAgent("phone/1.0"))
	laptop := newClient(t, shared, client.WithUserAgent("laptop/2.0"), client.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}))
	email := newEmail()

	// Register: 201 with the user; the email comes back normalised.
	before := time.Now().Add(-time.Minute)
	u, err := phone.Register(ctx, "  Ada Lovelace ", "  "+strings.ToUpper(email)+" ", goodPassword)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if u.ID <= 0 || u.Name != "Ada Lovelace" || u.Email != email || u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("Register = %+v, want an id, name %q, email %q, created now", u, "Ada Lovelace", email)
	}

	// The same email again: 409 email_taken.
	_, err = laptop.Register(ctx, "Someone Else", email, otherPassword)
	wantCode(t, "Register(taken email)", err, client.CodeEmailTaken, http.StatusConflict)
	if !errors.Is(err, &client.Error{Code: client.CodeEmailTaken}) {
		t.Errorf("errors.Is(%v, &Error{Code: email_taken}) = false, want true", err)
	}
	noSecrets(t, "Register(taken email)", err, otherPassword)

	// Log in on both devices.
	pt := login(t, ctx, phone, email, goodPassword)
	lt := login(t, ctx, laptop, email, goodPassword)
	for _, tok := range []*client.Tokens{pt, lt} {
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" ||
			tok.ExpiresIn != 15*time.Minute || time.Until(tok.Expiry) < 14*time.Minute ||
			tok.User.ID != u.ID || tok.User.Email != email || tok.User.Name != "Ada Lovelace" {
			t.Errorf("Login = %+v, want a Bearer pair for 15 minutes of user %d", tok, u.ID)
		}
	}
	if pt.AccessToken == lt.AccessToken || pt.RefreshToken == lt.RefreshToken {
		t.Error("two logins returned the same tokens")
	}

	// The profile.
	p, err := phone.Profile(ctx, pt.AccessToken)
	if err != nil {
		t.Fatalf("Profile: %v", err)
	}
	if p.ID != u.ID || p.Email != email || p.Name != "Ada Lovelace" || !p.CreatedAt.Equal(u.CreatedAt) ||
		p.ExpiresAt.Before(time.Now().Add(14*time.Minute)) || p.ExpiresAt.After(time.Now().Add(16*time.Minute)) {
		t.Errorf("Profile = %+v, want user %+v with the token's expiry in about 15 minutes", p, u)
	}

	// The sessions, as the laptop sees them: two, the laptop's current.
	list, err := laptop.Sessions(ctx, lt.AccessToken)
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	var current, other *client.Session
	for i := range list {
		if list[i].Current {
			if current != nil {
				t.Errorf("Sessions: two sessions are current: %+v", list)
			}
			current = &list[i]
		} else {
			other = &list[i]
		}
	}
	if len(list) != 2 || current == nil || other == nil {
		t.Fatalf("Sessions = %+v, want two, one current", list)
	}
	if current.UserAgent != "laptop/2.0" || other.UserAgent != "phone/1.0" || current.ID == "" || other.ID == "" ||
		current.IP != "127.0.0.1" || current.CreatedAt.IsZero() || current.LastUsedAt.IsZero() {
		t.Errorf("Sessions = %+v, want the laptop's (current) and the phone's, from 127.0.0.1", list)
	}

	// End the phone's session from the laptop: its tokens stop working.
	if err := laptop.EndSession(ctx, lt.AccessToken, other.ID); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	_, err = phone.Profile(ctx, pt.AccessToken)
	wantCode(t, "Profile(ended session)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	noSecrets(t, "Profile(ended session)", err, pt.AccessToken)
	_, err = phone.Refresh(ctx, pt.RefreshToken)
	wantCode(t, "Refresh(ended session)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	noSecrets(t, "Refresh(ended session)", err, pt.RefreshToken)
	if list, err := laptop.Sessions(ctx, lt.AccessToken); err != nil || len(list) != 1 || !list[0].Current {
		t.Errorf("Sessions after EndSession = %+v, %v; want only the current one", list, err)
	}

	// Change the password: a wrong current one is refused, a weak new one too.
	err = laptop.ChangePassword(ctx, lt.AccessToken, "not the password", otherPassword)
	wantCode(t, "ChangePassword(wrong current)", err, client.CodeInvalidCredentials, http.StatusUnauthorized)
	noSecrets(t, "ChangePassword(wrong current)", err, "not the password", otherPassword, lt.AccessToken)
	err = laptop.ChangePassword(ctx, lt.AccessToken, goodPassword, "12345678")
	e := wantCode(t, "ChangePassword(weak new)", err, client.CodeValidation, http.StatusUnprocessableEntity)
	if _, ok := e.Field("new_password"); !ok {
		t.Errorf("ChangePassword(weak new): Fields = %+v, want one for new_password", e.Fields)
	}
	if err := laptop.ChangePassword(ctx, lt.AccessToken, goodPassword, otherPassword); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	_, err = phone.Login(ctx, email, goodPassword)
	wantCode(t, "Login(old password)", err, client.CodeInvalidCredentials, http.StatusUnauthorized)
	pt = login(t, ctx, phone, email, otherPassword)
	if _, err := laptop.Profile(ctx, lt.AccessToken); err != nil {
		t.Errorf("Profile of the session that changed the password: %v, want it to go on", err)
	}

	// Log out everywhere: no token of the user works any more.
	if err := laptop.Logout(ctx, lt.AccessToken, client.ScopeGlobal); err != nil {
		t.Fatalf("Logout(global): %v", err)
	}
	for name, tok := range map[string]string{"laptop": lt.AccessToken, "phone": pt.AccessToken} {
		_, err := laptop.Profile(ctx, tok)
		wantCode(t, "Profile("+name+" after global logout)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	}
	_, err = phone.Refresh(ctx, pt.RefreshToken)
	wantCode(t, "Refresh(after global logout)", err, client.CodeInvalidToken, http.StatusUnauthorized)
}

// TestRefreshRotation: a refresh gives a new pair, and the spent refresh token
// is refused.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, shared)
	email := newEmail()
	u := register(t, ctx, c, email, goodPassword)
	t1 := login(t, ctx, c, email, goodPassword)

	t2, err := c.Refresh(ctx, t1.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if t2.RefreshToken == t1.RefreshToken || t2.AccessToken == t1.AccessToken || t2.TokenType != "Bearer" ||
		t2.ExpiresIn != 15*time.Minute || t2.User.ID != u.ID {
		t.Errorf("Refresh = %+v, want a new Bearer pair of user %d", t2, u.ID)
	}
	if p, err := c.Profile(ctx, t2.AccessToken); err != nil || p.ID != u.ID {
		t.Errorf("Profile(refreshed token) = %+v, %v; want user %d", p, err, u.ID)
	}

	_, err = c.Refresh(ctx, t1.RefreshToken)
	wantCode(t, "Refresh(spent token)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	noSecrets(t, "Refresh(spent token)", err, t1.RefreshToken)

	_, err = c.Refresh(ctx, "")
	e := wantCode(t, `Refresh("")`, err, client.CodeValidation, http.StatusUnprocessableEntity)
	if _, ok := e.Field("refresh_token"); !ok {
		t.Errorf(`Refresh(""): Fields = %+v, want one for refresh_token`, e.Fields)
	}
}

// TestLogoutScopes: a plain logout ends only its own session; "others" ends
// the rest.
func TestLogoutScopes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, shared)
	email := newEmail()
	register(t, ctx, c, email, goodPassword)
	a, b, d := login(t, ctx, c, email, goodPassword), login(t, ctx, c, email, goodPassword), login(t, ctx, c, email, goodPassword)

	if err := c.Logout(ctx, a.AccessToken, ""); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err := c.Profile(ctx, a.AccessToken)
	wantCode(t, "Profile(after logout)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	if _, err := c.Profile(ctx, b.AccessToken); err != nil {
		t.Fatalf("Profile(another session after logout): %v", err)
	}

	if err := c.Logout(ctx, b.AccessToken, client.ScopeOthers); err != nil {
		t.Fatalf("Logout(others): %v", err)
	}
	_, err = c.Profile(ctx, d.AccessToken)
	wantCode(t, "Profile(after logout of the others)", err, client.CodeInvalidToken, http.StatusUnauthorized)
	if _, err := c.Profile(ctx, b.AccessToken); err != nil {
		t.Errorf("Profile(the session that logged out the others): %v", err)
	}

	err = c.Logout(ctx, b.AccessToken, "everything")
	e := wantCode(t, "Logout(bad scope)", err, client.CodeValidation, http.StatusUnprocessableEntity)
	if _, ok := e.Field("scope"); !ok {
		t.Errorf("Logout(bad scope): Fields = %+v, want one for scope", e.Fields)
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	c := newClient(t, shared)
	tests := []struct {
		name      string
		userName  string
		email     string
		password  string
		wantField string
	}{
		{name: "common password", userName: "Ann", email: newEmail(), password: "12345678", wantField: "password"},
		{name: "short password", userName: "Ann", email: newEmail(), password: "abc", wantField: "password"},
		{name: "password over 72 bytes", userName: "Ann", email: newEmail(), password: strings.Repeat("ü", 37), wantField: "password"},
		{name: "bad email", userName: "Ann", email: "not-an-email", password: goodPassword, wantField: "email"},
		{name: "no name", userName: " ", email: newEmail(), password: goodPassword, wantField: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Register(testContext(t), tt.userName, tt.email, tt.password)
			e := wantCode(t, "Register", err, client.CodeValidation, http.StatusUnprocessableEntity)
			if len(e.Fields) == 0 || e.Fields[0].Field != tt.wantField || e.Fields[0].Message == "" {
				t.Errorf("Register: Fields = %+v, want the first for %q", e.Fields, tt.wantField)
			}
			if e.Title != "Unprocessable Entity" || e.Detail == "" || e.Type != "urn:sealauth:error:validation_failed" {
				t.Errorf("Register: Title %q, Detail %q, Type %q; want the problem's", e.Title, e.Detail, e.Type)
			}
			noSecrets(t, "Register", err, tt.password)
		})
	}
}

// TestLoginRefusals: a wrong password and an unknown email get the same
// answer, which names neither.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, shared)
	email := newEmail()
	register(t, ctx, c, email, goodPassword)

	_, errWrong := c.Login(ctx, email, "wrong password here")
	ew := wantCode(t, "Login(wrong password)", errWrong, client.CodeInvalidCredentials, http.StatusUnauthorized)
	noSecrets(t, "Login(wrong password)", errWrong, "wrong password here")
	_, errUnknown := c.Login(ctx, newEmail(), goodPassword)
	eu := wantCode(t, "Login(unknown email)", errUnknown, client.CodeInvalidCredentials, http.StatusUnauthorized)
	if ew.Detail != eu.Detail || ew.Title != eu.Title {
		t.Errorf("Login: wrong password %v, unknown email %v; want the same answer", errWrong, errUnknown)
	}
	noSecrets(t, "Login(unknown email)", errUnknown, goodPassword)
}

func TestInvalidToken(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, shared)
	const secret = "eyJhbGciOiJFUzI1NiJ9.not-a-real-token.secretsignature" // #nosec G101 -- a made-up token
	for name, call := range map[string]func() error{
		"Profile":    func() error { _, err := c.Profile(ctx, secret); return err },
		"Sessions":   func() error { _, err := c.Sessions(ctx, secret); return err },
		"Logout":     func() error { return c.Logout(ctx, secret, "") },
		"EndSession": func() error { return c.EndSession(ctx, secret, "some-id") },
		"ChangePassword": func() error {
			return c.ChangePassword(ctx, secret, goodPassword, otherPassword)
		},
		"Profile(empty)": func() error { _, err := c.Profile(ctx, ""); return err },
	} {
		err := call()
		wantCode(t, name, err, client.CodeInvalidToken, http.StatusUnauthorized)
		noSecrets(t, name, err, secret, "secretsignature", goodPassword)
	}
}

// TestSeal: a value from Seal, sent by other means, opens at the server.
func TestSeal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, shared)
	email := newEmail()
	register(t, ctx, c, email, goodPassword)

	k, err := c.PublicKey(ctx)
	if err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	if k.KID == "" || k.Alg != client.AlgRSAOAEP256 || k.Key == nil || k.Key.N.BitLen() < 2048 || !strings.HasPrefix(k.PEM, "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("PublicKey = %+v, want an RSA-OAEP-256 key of at least 2048 bits", k)
	}
	if k2, err := c.PublicKey(ctx); err != nil || k2 != k {
		t.Errorf("PublicKey again = %p, %v; want the cached %p", k2, err, k)
	}
	s1, kid, err := c.Seal(ctx, goodPassword)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	s2, _, _ := c.Seal(ctx, goodPassword)
	if kid != k.KID || s1 == s2 || strings.Contains(s1, goodPassword) {
		t.Errorf("Seal = %q (kid %q), again %q; want different values with kid %q", s1, kid, s2, k.KID)
	}
	body, _ := json.Marshal(map[string]string{"email": email, "password": s1, "kid": kid})
	resp, err := http.Post(shared.URL+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST /api/auth/login with a Seal value: status = %d, want 200", resp.StatusCode)
	}

	if _, _, err := c.Seal(ctx, strings.Repeat("x", 191)); err == nil || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("Seal(191 bytes) = %v, want an error that does not show the password", err)
	}
}

// TestRefetchAfterUnknownKey: after the server retires the key the client has
// cached, a login fetches the new key and goes through.
func TestRefetchAfterUnknownKey(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s := startTestServer(t, nil)
	c := newClient(t, s)
	email := newEmail()
	register(t, ctx, c, email, goodPassword)
	old, err := c.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.keys(ctx, "rotate", "--kind", "sealing"); err != nil {
		t.Fatal(err)
	}
	// The new key is served after its activation delay; then the old one can
	// be retired, and the server drops it within its reload interval.
	poll(t, "new key at /public-key", func() error {
		if kid := servedKID(t, s); kid == old.KID {
			return fmt.Errorf("still %s", kid)
		}
		return nil
	})
	poll(t, "retirement of the old key", func() error {
		_, err := s.keys(ctx, "retire", old.KID)
		return err
	})
	poll(t, "refusal of the old key", func() error {
		sealed, kid, err := c.Seal(ctx, goodPassword) // still the cached old key
		if err != nil || kid != old.KID {
			t.Fatalf("Seal = kid %q, %v; want the cached key %q", kid, err, old.KID)
		}
		body, _ := json.Marshal(map[string]string{"email": email, "password": sealed, "kid": kid})
		resp, err := http.Post(s.URL+"/api/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			return fmt.Errorf("POST /api/auth/login with the old key: status = %d, want 400", resp.StatusCode)
		}
		return nil
	})

	if _, err := c.Login(ctx, email, goodPassword); err != nil {
		t.Fatalf("Login with a retired key cached: %v, want a refetch and success", err)
	}
	if k, err := c.PublicKey(ctx); err != nil || k.KID == old.KID {
		t.Errorf("PublicKey after the refetch = %+v, %v; want a new kid", k, err)
	}
}

func servedKID(t *testing.T, s *server) string {
	t.Helper()
	c := newClient(t, s) // a fresh client: nothing cached
	k, err := c.PublicKey(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return k.KID
}

// poll calls try every 200 ms until it returns nil, for at most 20 s.
func poll(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRateLimited: over the login limit, the error is rate_limited with the
// Retry-After delay.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s := startTestServer(t, map[string]string{"RATE_LIMIT_LOGIN_PER_IP": "2/1m"})
	c := newClient(t, s)
	var err error
	for i := range 5 {
		_, err = c.Login(ctx, newEmail(), goodPassword)
		if client.IsCode(err, client.CodeRateLimited) {
			if i < 2 {
				t.Errorf("login #%d rate limited, want the first two let through", i+1)
			}
			break
		}
		wantCode(t, "Login(unknown email)", err, client.CodeInvalidCredentials, http.StatusUnauthorized)
	}
	e := wantCode(t, "Login(over the limit)", err, client.CodeRateLimited, http.StatusTooManyRequests)
	if e.RetryAfter <= 0 || e.RetryAfter > time.Minute {
		t.Errorf("Login(over the limit): RetryAfter = %v, want within (0, 1m]", e.RetryAfter)
	}
}

// TestHeaderTooLarge: net/http refuses headers over the server's limit with
// plain text, not a problem document; the client still gives an *Error, and
// its text does not show the token.
func TestHeaderTooLarge(t *testing.T) {
	t.Parallel()
	c := newClient(t, shared)
	huge := strings.Repeat("A", 32<<10)
	_, err := c.Profile(testContext(t), huge)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusRequestHeaderFieldsTooLarge || e.Code != "" {
		t.Fatalf("Profile(32 KiB token) = %v, want a 431 *Error without a code", err)
	}
	noSecrets(t, "Profile(32 KiB token)", err, huge[:64])
	if len(err.Error()) > 300 {
		t.Errorf("Profile(32 KiB token): error of %d bytes, want a short one: %q", len(err.Error()), err)
	}
}

// TestWrongBaseURL: a base URL that is not a sealauth server's API root gives
// not_found at the first call.
func TestWrongBaseURL(t *testing.T) {
	t.Parallel()
	c, err := client.New(shared.URL + "/nothing-here/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(testContext(t), newEmail(), goodPassword)
	wantCode(t, "Login at a wrong base URL", err, client.CodeNotFound, http.StatusNotFound)
	if !strings.Contains(err.Error(), "public key") {
		t.Errorf("Login at a wrong base URL: %v, want it to say the public key fetch failed", err)
	}
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	c := newClient(t, shared)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Login(ctx, newEmail(), goodPassword); !errors.Is(err, context.Canceled) {
		t.Errorf("Login(canceled context) = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := c.Profile(ctx, "token"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Profile(expired context) = %v, want context.DeadlineExceeded", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"", "127.0.0.1:8000", "ftp://example.com", "http://", "http://user:pw@example.com",
		"http://example.com/?x=1", "http://example.com/#top", "://x",
	} {
		if c, err := client.New(bad); err == nil {
			t.Errorf("New(%q) = %v, nil; want an error", bad, c)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("New(%q): error %q shows the user info", bad, err)
		}
	}
	for _, good := range []string{"http://127.0.0.1:8000", "https://auth.example.com/", "https://example.com/auth/"} {
		if _, err := client.New(good, client.WithHTTPClient(nil), client.WithUserAgent("x")); err != nil {
			t.Errorf("New(%q): %v", good, err)
		}
	}
}
