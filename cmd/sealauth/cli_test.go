package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sealauth/sealauth/internal/keys"
)

// needBinary skips a test when a tool is missing locally; in CI it fails.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func runCmd(t *testing.T, stdin string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestSealCommand(t *testing.T) {
	s := startServer(t, "", nil)
	pemBytes, err := keys.PublicKeyPEM(s.pub)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	s.register(t, "Sam", "sam@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	for _, args := range [][]string{{"seal", "--key", keyFile}, {"seal", "--server", s.URL}} {
		// One trailing newline is dropped (as a shell's echo or <<< adds it), nothing else.
		out, stderr, err := runCmd(t, goodPassword+"\n", nil, args...)
		if err != nil {
			t.Fatalf("sealauth %v: %v; stderr %s", args, err, stderr)
		}
		sealed := strings.TrimSpace(out)
		if _, err := base64.StdEncoding.DecodeString(sealed); err != nil || strings.Contains(out, goodPassword) {
			t.Fatalf("sealauth %v printed %q, want base64 only", args, out)
		}
		var l map[string]any
		s.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "sam@example.com", "password": sealed}), nil).decode(t, http.StatusOK, &l)
	}
	if _, _, err := runCmd(t, goodPassword, nil, "seal"); err == nil {
		t.Error("sealauth seal without --key or --server: err = nil, want usage error")
	}
	if _, _, err := runCmd(t, "", nil, "seal", "--key", keyFile); err == nil {
		t.Error("sealauth seal with empty stdin: err = nil, want error")
	}
}

// TestOpenSSLWalkthrough seals the way the README shows it with the real
// openssl binary and logs in with the result.
func TestOpenSSLWalkthrough(t *testing.T) {
	openssl := needBinary(t, "openssl")
	s := startServer(t, "", nil)
	s.register(t, "Ola", "ola@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	var doc struct {
		PublicKey string `json:"public_key"`
	}
	s.do(t, "GET", "/api/auth/public-key", "", nil).decode(t, http.StatusOK, &doc)
	pub := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(pub, []byte(doc.PublicKey), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, // #nosec G204 -- test
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
	cmd.Stdin = strings.NewReader(goodPassword)
	ct, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkeyutl: %v", err)
	}
	var l struct {
		AccessToken string `json:"access_token"`
	}
	s.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "ola@example.com", "password": base64.StdEncoding.EncodeToString(ct)}), nil).
		decode(t, http.StatusOK, &l)
}

// TestTutorialKeyFiles: keys made as the tutorial makes them (openssl genrsa,
// PKCS#8 from OpenSSL 3 and PKCS#1 with -traditional) serve as the sealing key;
// one under 2048 bits is refused with a clear message.
func TestTutorialKeyFiles(t *testing.T) {
	openssl := needBinary(t, "openssl")
	dir := t.TempDir()
	gen := func(name string, args ...string) string {
		path := filepath.Join(dir, name)
		if out, err := exec.Command(openssl, append([]string{"genrsa", "-out", path}, args...)...).CombinedOutput(); err != nil { // #nosec G204 -- test
			t.Fatalf("openssl genrsa: %v: %s", err, out)
		}
		return path
	}
	for _, tc := range []struct{ name, file string }{
		{"PKCS#8", gen("pkcs8.pem", "2048")},
		{"PKCS#1", gen("pkcs1.pem", "-traditional", "2048")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, "", map[string]string{"RSA_PRIVATE_KEY_FILE": tc.file})
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := keys.ParseRSAPrivateKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.PublicKey.Equal(s.pub) {
				t.Fatal("GET /public-key does not serve the configured key")
			}
			s.register(t, "Key", "key@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
		})
	}
	small := gen("small.pem", "1024")
	_, _, err := runCmd(t, "", map[string]string{"RSA_PRIVATE_KEY_FILE": small, "BCRYPT_COST": "4"},
		"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "2048") {
		t.Errorf("serve with a 1024-bit key: err = %v, want a message about 2048 bits", err)
	}
}

// TestSigningAlgorithms: each selectable algorithm issues tokens that verify
// with the key published in the JWKS, by an independent verifier.
func TestSigningAlgorithms(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			s := startServer(t, "", map[string]string{"JWT_ALG": alg})
			s.register(t, "Al", "al@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
			tok := s.loginToken(t, "al@example.com", goodPassword)
			signing, err := keys.ReadPrivateKeyFile(filepath.Join(s.DataDir, "signing_key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			s.do(t, "GET", "/.well-known/jwks.json", "", nil).decode(t, http.StatusOK, &set)
			if len(set.Keys) != 1 || set.Keys[0]["alg"] != alg || set.Keys[0]["use"] != "sig" || set.Keys[0]["kid"] == "" {
				t.Fatalf("JWKS = %v, want one %s signing key", set, alg)
			}
			parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) { return signing.Public(), nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired())
			if err != nil || parsed.Header["kid"] != set.Keys[0]["kid"] || parsed.Header["typ"] != "at+jwt" {
				t.Fatalf("token does not verify with the published key: %v, header %v", err, parsed.Header)
			}
			s.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)).decode(t, http.StatusOK, &map[string]any{})
		})
	}
}

func TestHS256FromTutorialSecret(t *testing.T) {
	_, _, err := runCmd(t, "", map[string]string{"JWT_SECRET": "super_secret_key"}, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET must be at least 32 bytes") {
		t.Errorf("serve with the tutorial's 16-byte JWT_SECRET: err = %v, want a refusal", err)
	}
	secret := "an HS256 secret of well over thirty-two bytes"
	s := startServer(t, "", map[string]string{"JWT_SECRET": secret, "JWT_EXPIRES": "3600"})
	s.register(t, "Hu", "hu@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	var l struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	s.login(t, "hu@example.com", goodPassword).decode(t, http.StatusOK, &l)
	if _, err := jwt.Parse(l.AccessToken, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil || l.ExpiresIn != 3600 {
		t.Errorf("HS256 token: %v, expires_in %d", err, l.ExpiresIn)
	}
	var set struct {
		Keys []any `json:"keys"`
	}
	s.do(t, "GET", "/.well-known/jwks.json", "", nil).decode(t, http.StatusOK, &set)
	if len(set.Keys) != 0 {
		t.Errorf("JWKS with HS256 = %v, want no keys (the secret is never published)", set.Keys)
	}
}

// TestLegacyPKCS1: with the opt-in, the tutorial's PKCS#1 v1.5 sealing logs in,
// and a ciphertext that does not open is answered exactly like a wrong password.
func TestLegacyPKCS1(t *testing.T) {
	s := startServer(t, "", map[string]string{"SEALAUTH_LEGACY_PKCS1": "true"})
	s.register(t, "Leg", "leg@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	v15 := func(pw string) string {
		//lint:ignore SA1019 the tutorial's old clients seal this way; the test plays one
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, s.pub, []byte(pw))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	body := func(sealed string) string {
		return jsonBody(t, map[string]string{"email": "leg@example.com", "password": sealed})
	}
	s.do(t, "POST", "/api/auth/login", body(v15(goodPassword)), nil).decode(t, http.StatusOK, &map[string]any{})
	wrong := s.do(t, "POST", "/api/auth/login", body(v15("not the password")), nil)
	garbage := s.do(t, "POST", "/api/auth/login", body(base64.StdEncoding.EncodeToString(make([]byte, 256))), nil)
	wrong.wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	if garbage.status != wrong.status || !bytes.Equal(garbage.body, wrong.body) {
		t.Errorf("undecryptable: %d %s; wrong password: %d %s; want identical", garbage.status, garbage.body, wrong.status, wrong.body)
	}

	// Without the opt-in the same PKCS#1 v1.5 ciphertext is refused.
	strict := startServer(t, "", nil)
	strict.register(t, "Leg", "leg@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	//lint:ignore SA1019 as above: an old client's ciphertext, to be refused
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, strict.pub, []byte(goodPassword))
	if err != nil {
		t.Fatal(err)
	}
	strict.do(t, "POST", "/api/auth/login", body(base64.StdEncoding.EncodeToString(ct)), nil).wantProblem(t, http.StatusBadRequest, "invalid_sealed_password")
}

func TestServeHelpListsSettings(t *testing.T) {
	_, stderr, err := runCmd(t, "", nil, "serve", "--help")
	if err != nil {
		t.Fatalf("serve --help: %v", err)
	}
	for _, want := range []string{"--addr", "SEALAUTH_ADDR", "127.0.0.1:8000", "DATABASE_URL", "RSA_PRIVATE_KEY_FILE", "JWT_ALG", "JWT_EXPIRES", "BCRYPT_COST", "SEALAUTH_DATA_DIR"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
}

func TestDataDirCreatedPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "data")
	startServer(t, dir, nil)
	if mode := fileMode(t, dir); mode != 0o700 {
		t.Errorf("data dir mode = %o, want 700", mode)
	}
}

// TestSecretsNeverLogged runs the flow with debug logging and looks for every
// secret in the log: the password, the sealed value, the token, key material.
func TestSecretsNeverLogged(t *testing.T) {
	s := startServer(t, "", map[string]string{"LOG_LEVEL": "debug"})
	sealed := s.seal(t, goodPassword)
	s.do(t, "POST", "/api/auth/register", jsonBody(t, map[string]string{"name": "Sec", "email": "sec@example.com", "password": sealed}), nil).
		decode(t, http.StatusCreated, &map[string]any{})
	tok := s.loginToken(t, "sec@example.com", goodPassword)
	s.login(t, "sec@example.com", "a wrong password here").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	s.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)).decode(t, http.StatusOK, &map[string]any{})
	s.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok+"x")).wantProblem(t, http.StatusUnauthorized, "invalid_token")
	s.do(t, "POST", "/api/auth/logout", "", bearerHdr(tok)).decode(t, http.StatusOK, &map[string]any{})

	sealingPEM, err := os.ReadFile(filepath.Join(s.DataDir, "sealing_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(sealingPEM)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	d := priv.(*rsa.PrivateKey).D
	log := s.Log.String()
	secrets := map[string]string{
		"password":          goodPassword,
		"wrong password":    "a wrong password here",
		"sealed password":   sealed[:40],
		"access token":      tok[strings.LastIndexByte(tok, '.')+1:],
		"token payload":     strings.Split(tok, ".")[1],
		"private key (PEM)": string(sealingPEM[40:100]),
		"private exponent":  d.String()[:40],
	}
	for name, v := range secrets {
		if strings.Contains(log, v) {
			t.Errorf("the log contains the %s", name)
		}
	}
	// One access-log line per request, with what an operator needs.
	var lines int
	for _, l := range strings.Split(log, "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(l), &e) != nil || e["msg"] != "request" {
			continue
		}
		lines++
		for _, k := range []string{"method", "path", "status", "duration", "request_id"} {
			if _, ok := e[k]; !ok {
				t.Errorf("access log line %s has no %q", l, k)
			}
		}
	}
	if lines < 7 {
		t.Errorf("%d access-log lines, want one per request (at least 7)", lines)
	}
}

func TestCORS(t *testing.T) {
	s := startServer(t, "", map[string]string{"CORS_ORIGINS": "https://app.example.com, http://localhost:5173"})
	pre := s.do(t, "OPTIONS", "/api/auth/login", "", map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight from an allowed origin: %d %v", pre.status, pre.header)
	}
	if pre.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("preflight offers credentials; the API uses bearer tokens only")
	}
	evil := s.do(t, "OPTIONS", "/api/auth/login", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
	if evil.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin got Access-Control-Allow-Origin %q", evil.header.Get("Access-Control-Allow-Origin"))
	}
	get := s.do(t, "GET", "/api/auth/public-key", "", map[string]string{"Origin": "http://localhost:5173"})
	if get.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || !strings.Contains(get.header.Get("Vary"), "Origin") {
		t.Errorf("GET from an allowed origin: headers %v", get.header)
	}
	// Off by default.
	plain := startServer(t, "", nil)
	if h := plain.do(t, "GET", "/api/auth/public-key", "", map[string]string{"Origin": "https://app.example.com"}).header; h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header without CORS_ORIGINS: %v", h)
	}
	if _, _, err := runCmd(t, "", map[string]string{"CORS_ORIGINS": "*"}, "serve", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
		t.Errorf("CORS_ORIGINS=*: err = %v, want a refusal", err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := startServer(t, "", nil)
	for _, path := range []string{"/healthz", "/api/auth/public-key", "/api/auth/nope"} {
		h := s.do(t, "GET", path, "", nil).header
		want := map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Referrer-Policy":         "no-referrer",
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: HSTS over plain HTTP", path)
		}
	}
}

// TestPprofOptIn: the profiler is off unless PPROF_ADDR is set, and then it
// is on its own listener, never on the API's.
func TestPprofOptIn(t *testing.T) {
	s := startServer(t, "", nil)
	s.do(t, "GET", "/debug/pprof/", "", nil).wantProblem(t, http.StatusNotFound, "not_found")

	p := startServer(t, "", map[string]string{"PPROF_ADDR": "127.0.0.1:0"})
	m := regexp.MustCompile(`"msg":"serving the profiler","addr":"([^"]+)"`).FindStringSubmatch(p.Log.String())
	if m == nil {
		t.Fatalf("no profiler line in the log:\n%s", p.Log.String())
	}
	resp, err := http.Get("http://" + m[1] + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/ on PPROF_ADDR: status %d", resp.StatusCode)
	}
	p.do(t, "GET", "/debug/pprof/", "", nil).wantProblem(t, http.StatusNotFound, "not_found")
}
