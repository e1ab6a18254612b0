package main

import (
	"crypto/rand"

	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SEALAUTH_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SEALAUTH_TEST_REDIS_URL is required in CI")
		}
		t.Skip("SEALAUTH_TEST_REDIS_URL not set")
	}
	return u
}

func checkRateLimited(t *testing.T, r response) {
	t.Helper()
	r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After = %q, want whole seconds", r.req, r.header.Get("Retry-After"))
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	s := startServer(t, "", map[string]string{"RATE_LIMIT_LOGIN_PER_IP": "3/1m"})
	newUser(t, s, "ip@example.com")
	for i := range 3 {
		r := s.login(t, "ip@example.com", goodPassword)
		if r.status != http.StatusOK {
			t.Fatalf("login %d: status %d", i+1, r.status)
		}
		if !strings.Contains(r.header.Get("RateLimit-Policy"), `"login";q=3;w=60`) || !strings.Contains(r.header.Get("RateLimit"), `"login";r=`) {
			t.Errorf("login %d: RateLimit %q, RateLimit-Policy %q", i+1, r.header.Get("RateLimit"), r.header.Get("RateLimit-Policy"))
		}
	}
	checkRateLimited(t, s.login(t, "ip@example.com", goodPassword))
	// Other routes have their own limits.
	s.do(t, "GET", "/api/auth/public-key", "", nil).decode(t, http.StatusOK, &map[string]any{})
}

// TestAccountThrottle: after the threshold of failures the account is
// throttled with growing delays, even for the right password, and before any
// RSA work (a ciphertext that could not even be opened gets 429, not 400); a
// success resets the count.
func TestAccountThrottle(t *testing.T) {
	s := startServer(t, "", map[string]string{"LOGIN_FAILURES_THRESHOLD": "3"})
	newUser(t, s, "acct@example.com")
	for range 3 {
		s.login(t, "acct@example.com", "wrong password here").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	}
	checkRateLimited(t, s.login(t, "ACCT@example.com ", goodPassword))
	unopenable := s.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "acct@example.com", "password": "bm90IGEgY2lwaGVydGV4dA=="}), nil)
	checkRateLimited(t, unopenable)
	// Other accounts are not affected.
	newUser(t, s, "other@example.com")
	s.loginPair(t, "other@example.com", goodPassword)

	wait, _ := strconv.Atoi(unopenable.header.Get("Retry-After"))
	time.Sleep(time.Duration(wait)*time.Second + 100*time.Millisecond)
	s.loginPair(t, "acct@example.com", goodPassword) // the throttle ended; success resets
	s.login(t, "acct@example.com", "wrong password here").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	s.loginPair(t, "acct@example.com", goodPassword)
}

// TestTrustedProxies: X-Forwarded-For counts only from a trusted proxy.
func TestTrustedProxies(t *testing.T) {
	limit := map[string]string{"RATE_LIMIT_LOGIN_PER_IP": "2/1m"}
	spoofed := startServer(t, "", limit)
	newUser(t, spoofed, "px@example.com")
	for i := range 3 {
		r := spoofed.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "px@example.com", "password": spoofed.seal(t, goodPassword)}),
			map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)})
		if want := map[bool]int{true: 200, false: 429}[i < 2]; r.status != want {
			t.Errorf("untrusted peer, spoofed X-Forwarded-For #%d: status %d, want %d", i, r.status, want)
		}
	}

	env := map[string]string{"RATE_LIMIT_LOGIN_PER_IP": "2/1m", "TRUSTED_PROXIES": "127.0.0.0/8"}
	proxied := startServer(t, "", env)
	newUser(t, proxied, "px@example.com")
	var tok string
	for i := range 3 {
		// Each client behind the proxy has its own budget; a spoofed entry
		// left of the proxy's own is not believed.
		r := proxied.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "px@example.com", "password": proxied.seal(t, goodPassword)}),
			map[string]string{"X-Forwarded-For": "198.51.100.9, 203.0.113." + strconv.Itoa(i)})
		var p tokenPair
		r.decode(t, http.StatusOK, &p)
		tok = p.AccessToken
	}
	var list struct {
		Sessions []struct {
			IP      string `json:"ip"`
			Current bool   `json:"current"`
		} `json:"sessions"`
	}
	proxied.do(t, "GET", "/api/auth/sessions", "", bearerHdr(tok)).decode(t, http.StatusOK, &list)
	for _, se := range list.Sessions {
		if se.Current && se.IP != "203.0.113.2" {
			t.Errorf("session ip = %s, want the client address from the trusted proxy, 203.0.113.2", se.IP)
		}
	}
}

func uniquePrefix(t *testing.T) string {
	t.Helper()
	return "sealauth-test:" + rand.Text() + ":"
}

// TestRedisSharedLimit: two server processes on one Redis share the limit.
func TestRedisSharedLimit(t *testing.T) {
	env := map[string]string{"REDIS_URL": redisURL(t), "REDIS_PREFIX": uniquePrefix(t), "RATE_LIMIT_LOGIN_PER_IP": "4/1m"}
	dir := t.TempDir()
	a, _ := startProcess(t, dir, env)
	b, _ := startProcess(t, dir, env)
	newUser(t, a, "shared@example.com")
	for i, s := range []*testServer{a, b, a, b} {
		if st := s.login(t, "shared@example.com", goodPassword).status; st != http.StatusOK {
			t.Fatalf("login %d: status %d, want 200", i+1, st)
		}
	}
	checkRateLimited(t, a.login(t, "shared@example.com", goodPassword))
	checkRateLimited(t, b.login(t, "shared@example.com", goodPassword))
}

// TestRedisDown: with Redis unreachable the server keeps answering on local
// limits, and says so in its log and metrics; never a 500.
func TestRedisDown(t *testing.T) {
	s := startServer(t, "", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "RATE_LIMIT_LOGIN_PER_IP": "3/1m"})
	newUser(t, s, "down@example.com")
	for range 3 {
		s.loginPair(t, "down@example.com", goodPassword)
	}
	checkRateLimited(t, s.login(t, "down@example.com", goodPassword))
	if !strings.Contains(s.Log.String(), "redis unavailable") {
		t.Error("the log does not say that Redis is unavailable")
	}
	m := s.do(t, "GET", "/metrics", "", nil)
	if m.status != http.StatusOK || !strings.Contains(string(m.body), "sealauth_ratelimit_redis_up 0") {
		t.Errorf("GET /metrics: %d, want sealauth_ratelimit_redis_up 0 in:\n%.2000s", m.status, m.body)
	}
}
