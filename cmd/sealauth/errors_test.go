package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/seal"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestErrorCodes covers every error code a client can cause. (internal, 500, is
// for real bugs only and no request can cause it.)
func TestErrorCodes(t *testing.T) {
	s := startServer(t, "", nil)
	s.register(t, "Taken", "taken@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	good := s.seal(t, goodPassword)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := seal.Seal(&otherKey.PublicKey, []byte(goodPassword))
	if err != nil {
		t.Fatal(err)
	}
	reg := func(name, email, sealed string) string {
		return jsonBody(t, map[string]string{"name": name, "email": email, "password": sealed})
	}
	tooLong := s.seal(t, strings.Repeat("x", 73))
	jsonCT := map[string]string{"Content-Type": "application/json"}

	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		code                     string
		field                    string // for validation_failed: the field named
	}{
		{name: "malformed JSON", method: "POST", path: "/api/auth/login", body: `{"email":`, status: 400, code: "invalid_json"},
		{name: "duplicate key", method: "POST", path: "/api/auth/login", body: `{"email":"a@b.co","email":"c@d.co","password":"x"}`, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", path: "/api/auth/login", body: `{"email":"a@b.co","password":"x","admin":true}`, status: 400, code: "invalid_json"},
		{name: "wrong type", method: "POST", path: "/api/auth/login", body: `{"email":42,"password":"x"}`, status: 400, code: "invalid_json"},
		{name: "trailing data", method: "POST", path: "/api/auth/login", body: `{"email":"a@b.co","password":"x"} {}`, status: 400, code: "invalid_json"},
		{name: "array body", method: "POST", path: "/api/auth/register", body: `[]`, status: 400, code: "invalid_json"},
		{name: "invalid utf-8", method: "POST", path: "/api/auth/register", body: "{\"name\":\"\xff\xfe\",\"email\":\"a@b.co\",\"password\":\"x\"}", status: 400, code: "invalid_json"},
		{name: "empty body", method: "POST", path: "/api/auth/login", hdr: jsonCT, status: 400, code: "invalid_json"},
		{name: "not base64", method: "POST", path: "/api/auth/login", body: `{"email":"a@b.co","password":"not base64 at all!"}`, status: 400, code: "invalid_sealed_password"},
		{name: "plaintext password", method: "POST", path: "/api/auth/register", body: reg("Pat", "pat@example.com", "12345678"), status: 400, code: "invalid_sealed_password"},
		{name: "sealed to another key", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "taken@example.com", "password": foreign}), status: 400, code: "invalid_sealed_password"},
		{name: "short ciphertext", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "a@b.co", "password": base64.StdEncoding.EncodeToString(make([]byte, 100))}), status: 400, code: "invalid_sealed_password"},
		{name: "unknown kid", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "a@b.co", "password": good, "kid": "no-such-key"}), status: 400, code: "unknown_key"},
		{name: "bad email", method: "POST", path: "/api/auth/register", body: reg("Pat", "not-an-email", good), status: 422, code: "validation_failed", field: "email"},
		{name: "display-name email", method: "POST", path: "/api/auth/register", body: reg("Pat", "Pat <pat@example.com>", good), status: 422, code: "validation_failed", field: "email"},
		{name: "empty name", method: "POST", path: "/api/auth/register", body: reg("  ", "pat@example.com", good), status: 422, code: "validation_failed", field: "name"},
		{name: "long name", method: "POST", path: "/api/auth/register", body: reg(strings.Repeat("n", 101), "pat@example.com", good), status: 422, code: "validation_failed", field: "name"},
		{name: "short password", method: "POST", path: "/api/auth/register", body: reg("Pat", "pat@example.com", s.seal(t, "short")), status: 422, code: "validation_failed", field: "password"},
		{name: "tutorial's common password", method: "POST", path: "/api/auth/register", body: reg("Pat", "pat@example.com", s.seal(t, "12345678")), status: 422, code: "validation_failed", field: "password"},
		{name: "73-byte password at register", method: "POST", path: "/api/auth/register", body: reg("Pat", "pat@example.com", tooLong), status: 422, code: "validation_failed", field: "password"},
		{name: "73-byte password at login", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "taken@example.com", "password": tooLong}), status: 422, code: "validation_failed", field: "password"},
		{name: "missing password", method: "POST", path: "/api/auth/register", body: `{"name":"Pat","email":"pat@example.com"}`, status: 422, code: "validation_failed", field: "password"},
		{name: "email taken", method: "POST", path: "/api/auth/register", body: reg("Other", "Taken@Example.com", good), status: 409, code: "email_taken"},
		{name: "wrong password", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "taken@example.com", "password": s.seal(t, "wrong horse battery staple")}), status: 401, code: "invalid_credentials"},
		{name: "unknown email", method: "POST", path: "/api/auth/login", body: jsonBody(t, map[string]string{"email": "nobody@example.com", "password": good}), status: 401, code: "invalid_credentials"},
		{name: "no token", method: "GET", path: "/api/auth/profile", status: 401, code: "invalid_token"},
		{name: "garbage token", method: "GET", path: "/api/auth/profile", hdr: bearerHdr("abc.def.ghi"), status: 401, code: "invalid_token"},
		{name: "basic auth", method: "GET", path: "/api/auth/profile", hdr: map[string]string{"Authorization": "Basic YTpi"}, status: 401, code: "invalid_token"},
		{name: "9 KiB token", method: "GET", path: "/api/auth/profile", hdr: bearerHdr(strings.Repeat("a", 9<<10)), status: 401, code: "invalid_token"},
		{name: "form body", method: "POST", path: "/api/auth/login", body: "email=a@b.co", hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
		{name: "no content type", method: "POST", path: "/api/auth/login", body: `{}`, hdr: map[string]string{"Content-Type": ""}, status: 415, code: "unsupported_media_type"},
		{name: "65 KiB body", method: "POST", path: "/api/auth/register", body: `{"name":"` + strings.Repeat("a", 65<<10) + `"}`, status: 413, code: "payload_too_large"},
		{name: "unknown path", method: "GET", path: "/api/auth/nope", status: 404, code: "not_found"},
		{name: "root", method: "GET", path: "/", status: 404, code: "not_found"},
		{name: "GET login", method: "GET", path: "/api/auth/login", status: 405, code: "method_not_allowed"},
		{name: "DELETE profile", method: "DELETE", path: "/api/auth/profile", status: 405, code: "method_not_allowed"},
		{name: "TRACE register", method: "TRACE", path: "/api/auth/register", status: 405, code: "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.method, tt.path, tt.body, tt.hdr)
			p := r.wantProblem(t, tt.status, tt.code)
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field || p.Errors[0].Message == "") {
				t.Errorf("%s: errors = %+v, want one naming %q", r.req, p.Errors, tt.field)
			}
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("%s: no Allow header", r.req)
			}
			if bytes.Contains(r.body, []byte(good)) {
				t.Errorf("%s: the sealed password is echoed in the body", r.req)
			}
		})
	}

	// Nothing a refused request sent was stored: the only user is still the one.
	s.login(t, "pat@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
}

// TestLoginFailuresIndistinguishable: an unknown email and a wrong password give
// byte-identical bodies and the same status, so the API does not tell which
// accounts exist.
func TestLoginFailuresIndistinguishable(t *testing.T) {
	s := startServer(t, "", nil)
	s.register(t, "Kim", "kim@example.com", goodPassword).decode(t, http.StatusCreated, &map[string]any{})
	wrong := s.login(t, "kim@example.com", "not the password at all")
	unknown := s.login(t, "nobody@example.com", goodPassword)
	if wrong.status != http.StatusUnauthorized || unknown.status != wrong.status || !bytes.Equal(wrong.body, unknown.body) {
		t.Errorf("wrong password: %d %s; unknown email: %d %s; want identical 401s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
}
