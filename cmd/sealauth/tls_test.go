package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/tlsconf"
)

// devTLSClient trusts the development certificate of a server's data dir.
func devTLSClient(t testing.TB, dataDir string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, tlsconf.DevCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("dev certificate does not parse")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func TestDevTLS(t *testing.T) {
	s := startServer(t, "", nil, "--dev-tls")
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL = %s, want https", s.URL)
	}
	newUser(t, s, "tls@example.com")
	r := s.login(t, "tls@example.com", goodPassword)
	var p tokenPair
	r.decode(t, http.StatusOK, &p)
	if hsts := r.header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q over TLS, want max-age", hsts)
	}
	// TLS 1.1 is refused.
	old := devTLSClient(t, s.DataDir)
	old.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11 // #nosec G402 -- checking that the server refuses it
	if resp, err := old.Get(s.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
	if _, _, err := runCmd(t, "", map[string]string{"TLS_CERT_FILE": "x.pem"}, "serve", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "TLS_KEY_FILE") {
		t.Errorf("TLS_CERT_FILE without TLS_KEY_FILE: err = %v, want a refusal", err)
	}
}

// TestTLSCertificateFiles serves HTTPS from TLS_CERT_FILE/TLS_KEY_FILE (a
// self-signed pair made beforehand, as an operator's files would be).
func TestTLSCertificateFiles(t *testing.T) {
	data := t.TempDir()
	cert, key, err := tlsconf.DevCertificate(data, []string{"auth.internal"})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, data, map[string]string{"TLS_CERT_FILE": cert, "TLS_KEY_FILE": key})
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL = %s, want https", s.URL)
	}
	s.do(t, "GET", "/api/auth/public-key", "", nil).decode(t, http.StatusOK, &map[string]any{})
}
