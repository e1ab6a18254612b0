package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
)

// syncBuffer collects a server's log while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a real sealauth started through run on a free loopback port.
type testServer struct {
	URL     string
	DataDir string
	Log     *syncBuffer
	pub     *rsa.PublicKey
	kid     string
	stop    func()
	client  *http.Client // nil: http.DefaultClient
}

func (s *testServer) httpClient() *http.Client {
	if s.client != nil {
		return s.client
	}
	return http.DefaultClient
}

// testLimitsOff turns the per-address rate limits off: every test client is
// 127.0.0.1. The tests of the limits turn them on again.
var testLimitsOff = map[string]string{
	"RATE_LIMIT_LOGIN_PER_IP": "off", "RATE_LIMIT_REGISTER_PER_IP": "off",
	"RATE_LIMIT_REFRESH_PER_IP": "off", "RATE_LIMIT_PUBLIC_KEY_PER_IP": "off",
}

var listenLine = regexp.MustCompile(`listening on (https?://\S+)`)

// startServer runs `sealauth serve` with env (BCRYPT_COST defaults to 4) until
// the test ends. dataDir "" means a fresh temporary one.
func startServer(t testing.TB, dataDir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	vars := map[string]string{"BCRYPT_COST": "4", "LOG_LEVEL": "debug"}
	for k, v := range testLimitsOff {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)
	go func() {
		err := run(ctx, argv, getenv, strings.NewReader(""), pw, logs)
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := listenLine.FindStringSubmatch(line)
	if err != nil || m == nil {
		cancel()
		t.Fatalf("server did not start: %v; first line %q; log:\n%s", err, line, logs.String())
	}
	s := &testServer{URL: m[1], DataDir: dataDir, Log: logs}
	if strings.HasPrefix(s.URL, "https://") {
		s.client = devTLSClient(t, dataDir)
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	s.waitHealthy(t)
	s.fetchPublicKey(t)
	return s
}

func (s *testServer) fetchPublicKey(t testing.TB) {
	t.Helper()
	var doc struct {
		KID       string `json:"kid"`
		PublicKey string `json:"public_key"`
	}
	s.do(t, "GET", "/api/auth/public-key", "", nil).decode(t, http.StatusOK, &doc)
	pub, err := keys.ParseRSAPublicKeyPEM([]byte(doc.PublicKey))
	if err != nil {
		t.Fatalf("public-key: %v", err)
	}
	s.pub, s.kid = pub, doc.KID
}

func (s *testServer) waitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := s.httpClient().Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET /healthz did not answer 200 within 10 s")
}

func (s *testServer) seal(t testing.TB, pw string) string {
	t.Helper()
	v, err := seal.Seal(s.pub, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type response struct {
	status int
	header http.Header
	body   []byte
	req    string
}

// do sends a request; body "" sends none, headers are "Key: value" pairs.
func (s *testServer) do(t testing.TB, method, path, body string, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, req: method + " " + path}
}

func (r response) decode(t testing.TB, want int, v any) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status = %d, want %d; body %s", r.req, r.status, want, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body %s: %v", r.req, r.body, err)
	}
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem checks an error response: status, problem+json and code.
func (r response) wantProblem(t testing.TB, status int, code string) problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type = %q, want application/problem+json", r.req, ct)
	}
	var p problem
	r.decode(t, status, &p)
	if p.Code != code || p.Status != status || p.Detail == "" || p.Title == "" || p.Type == "" {
		t.Errorf("%s: problem = %+v, want code %s, status %d, detail, title and type", r.req, p, code, status)
	}
	return p
}

func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *testServer) register(t testing.TB, name, email, pw string) response {
	t.Helper()
	return s.do(t, "POST", "/api/auth/register", jsonBody(t, map[string]string{"name": name, "email": email, "password": s.seal(t, pw)}), nil)
}

func (s *testServer) login(t testing.TB, email, pw string) response {
	t.Helper()
	return s.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": email, "password": s.seal(t, pw)}), nil)
}

func (s *testServer) loginToken(t testing.TB, email, pw string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	s.login(t, email, pw).decode(t, http.StatusOK, &out)
	return out.AccessToken
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

const goodPassword = "correct horse battery staple"

func TestTutorialFlow(t *testing.T) { forEachStore(t, testTutorialFlow) }

func testTutorialFlow(t *testing.T, db map[string]string) {
	s := startServer(t, "", db)

	var reg struct {
		Message string `json:"message"`
		User    struct {
			ID        int64     `json:"id"`
			Name      string    `json:"name"`
			Email     string    `json:"email"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"user"`
	}
	s.register(t, "StarCode Kh", "  StarCodeKh@Example.com ", goodPassword).decode(t, http.StatusCreated, &reg)
	if reg.Message != "User registered successfully" || reg.User.ID == 0 || reg.User.Name != "StarCode Kh" ||
		reg.User.Email != "starcodekh@example.com" || reg.User.CreatedAt.IsZero() || reg.User.CreatedAt.Location() != time.UTC {
		t.Errorf("POST /register: body = %+v", reg)
	}

	resp := s.login(t, "STARCODEKH@example.com", goodPassword)
	var login struct {
		User        map[string]any `json:"user"`
		AccessToken string         `json:"access_token"`
		TokenType   string         `json:"token_type"`
		ExpiresIn   int            `json:"expires_in"`
	}
	resp.decode(t, http.StatusOK, &login)
	if login.TokenType != "Bearer" || login.ExpiresIn != 900 || login.AccessToken == "" ||
		login.User["email"] != "starcodekh@example.com" || login.User["name"] != "StarCode Kh" || login.User["id"] != float64(reg.User.ID) {
		t.Errorf("POST /login: body = %s", resp.body)
	}
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST /login: Cache-Control = %q, want no-store", cc)
	}

	var prof map[string]any
	s.do(t, "GET", "/api/auth/profile", "", bearerHdr(login.AccessToken)).decode(t, http.StatusOK, &prof)
	for _, k := range []string{"id", "name", "email", "created_at", "exp"} {
		if _, ok := prof[k]; !ok {
			t.Errorf("GET /profile: no %q in %v", k, prof)
		}
	}
	if prof["id"] != float64(reg.User.ID) || prof["email"] != "starcodekh@example.com" {
		t.Errorf("GET /profile = %v", prof)
	}
	if exp, _ := prof["exp"].(float64); exp < float64(time.Now().Add(14*time.Minute).Unix()) {
		t.Errorf("GET /profile: exp = %v, want about 15 minutes ahead", prof["exp"])
	}

	var out map[string]string
	s.do(t, "POST", "/api/auth/logout", "", bearerHdr(login.AccessToken)).decode(t, http.StatusOK, &out)
	if out["message"] != "Logged out" {
		t.Errorf("POST /logout = %v", out)
	}
	after := s.do(t, "GET", "/api/auth/profile", "", bearerHdr(login.AccessToken))
	after.wantProblem(t, http.StatusUnauthorized, "invalid_token")
	if wa := after.header.Get("WWW-Authenticate"); wa != `Bearer error="invalid_token"` {
		t.Errorf("GET /profile after logout: WWW-Authenticate = %q", wa)
	}
	s.do(t, "POST", "/api/auth/logout", "", bearerHdr(login.AccessToken)).wantProblem(t, http.StatusUnauthorized, "invalid_token")

	// A new login still works after logout: only the one token was revoked.
	tok := s.loginToken(t, "starcodekh@example.com", goodPassword)
	s.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)).decode(t, http.StatusOK, &prof)
}

func TestLogoutSurvivesRestart(t *testing.T) { forEachStore(t, testLogoutSurvivesRestart) }

func testLogoutSurvivesRestart(t *testing.T, db map[string]string) {
	dir := t.TempDir()
	s := startServer(t, dir, db)
	s.register(t, "Ann", "ann@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	revoked := s.loginToken(t, "ann@example.com", goodPassword)
	kept := s.loginToken(t, "ann@example.com", goodPassword)
	s.do(t, "POST", "/api/auth/logout", "", bearerHdr(revoked)).decode(t, http.StatusOK, &map[string]any{})
	s.stop()

	s2 := startServer(t, dir, db)
	s2.do(t, "GET", "/api/auth/profile", "", bearerHdr(revoked)).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	s2.do(t, "GET", "/api/auth/profile", "", bearerHdr(kept)).decode(t, http.StatusOK, &map[string]any{})
}

func TestKeysPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	sealed := s.seal(t, goodPassword)
	s.do(t, "POST", "/api/auth/register", jsonBody(t, map[string]string{"name": "Bo", "email": "bo@example.com", "password": sealed}), nil).
		decode(t, http.StatusCreated, &map[string]any{})
	tok := s.loginToken(t, "bo@example.com", goodPassword)
	s.stop()

	s2 := startServer(t, dir, nil)
	if s2.kid != s.kid {
		t.Errorf("sealing kid after restart = %s, want %s", s2.kid, s.kid)
	}
	s2.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)).decode(t, http.StatusOK, &map[string]any{})
	for _, f := range []string{"sealing_key.pem", "signing_key.pem"} {
		if mode := fileMode(t, filepath.Join(dir, f)); mode != 0o600 {
			t.Errorf("%s mode = %o, want 600", f, mode)
		}
	}
}
