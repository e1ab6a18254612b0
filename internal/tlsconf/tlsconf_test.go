package tlsconf

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPair is a self-signed certificate for localhost and 127.0.0.1 with its
// key, as PEM.
type testPair struct {
	serial  int64
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

func newTestPair(t *testing.T, serial int64, notAfter time.Time) testPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPair{
		serial:  serial,
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// writeFile overwrites path in place, as a careless deploy script would:
// a reader may see it half written or paired with the old key.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log destination the test can read while the server writes.
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

// serve runs a real HTTPS server on loopback with cfg and returns its
// address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return ln.Addr().String()
}

// handshake opens a new connection to addr and returns its state.
func handshake(addr string, cfg *tls.Config) (*tls.ConnectionState, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	return &st, nil
}

func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	st, err := handshake(addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return st.PeerCertificates[0].SerialNumber.Int64()
}

// eventually calls cond, each time over a new connection, until it holds or
// ten seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReloadsWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	notAfter := time.Now().Add(24 * time.Hour)
	a, b, c, d := newTestPair(t, 1001, notAfter), newTestPair(t, 1002, notAfter), newTestPair(t, 1003, notAfter), newTestPair(t, 1004, notAfter)
	roots := x509.NewCertPool()
	for _, p := range []testPair{a, b, c, d} {
		roots.AddCert(p.cert)
	}
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, a.keyPEM)

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	r, err := Load(certFile, keyFile, logger, WithCheckInterval(50*time.Millisecond))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	addr := serve(t, r.Config())

	if got := servedSerial(t, addr, roots); got != a.serial {
		t.Fatalf("first handshake: serial = %d, want %d", got, a.serial)
	}

	// A good replacement is served to new connections.
	writeFile(t, certFile, b.certPEM)
	writeFile(t, keyFile, b.keyPEM)
	eventually(t, "certificate B served", func() bool { return servedSerial(t, addr, roots) == b.serial })

	warnings := func() int { return strings.Count(logs.String(), "certificate reload failed") }

	// The certificate is written before its key: until the key follows,
	// the pair does not match and B stays in use, with one warning however
	// many handshakes see the mismatch.
	// (Counts are relative: a reader may catch a file mid-write, which is
	// one more, legitimate, warning.)
	seen := warnings()
	writeFile(t, certFile, c.certPEM)
	eventually(t, "mismatch warned about", func() bool {
		servedSerial(t, addr, roots)
		return warnings() > seen
	})
	seen = warnings()
	for range 5 {
		time.Sleep(60 * time.Millisecond)
		if got := servedSerial(t, addr, roots); got != b.serial {
			t.Fatalf("with mismatched pair: serial = %d, want %d (the previous certificate)", got, b.serial)
		}
	}
	if n := warnings(); n != seen {
		t.Errorf("the same mismatched pair warned about %d more times, want once", n-seen)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("reload failure not logged at WARN:\n%s", logs.String())
	}
	writeFile(t, keyFile, c.keyPEM)
	eventually(t, "certificate C served once its key arrived", func() bool { return servedSerial(t, addr, roots) == c.serial })

	// A half-written certificate changes nothing until it is complete.
	seen = warnings()
	writeFile(t, keyFile, d.keyPEM)
	writeFile(t, certFile, d.certPEM[:len(d.certPEM)/2])
	eventually(t, "half-written certificate warned about", func() bool {
		servedSerial(t, addr, roots)
		return strings.Contains(logs.String(), "failed to find") && warnings() > seen
	})
	if got := servedSerial(t, addr, roots); got != c.serial {
		t.Fatalf("with half-written certificate: serial = %d, want %d", got, c.serial)
	}
	writeFile(t, certFile, d.certPEM)
	eventually(t, "certificate D served once complete", func() bool { return servedSerial(t, addr, roots) == d.serial })

	// Logs name the files and the problem, never the key.
	for _, p := range []testPair{a, b, c, d} {
		body := strings.Split(string(p.keyPEM), "\n")[1]
		if strings.Contains(logs.String(), body) {
			t.Errorf("log contains key material of pair %d", p.serial)
		}
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("log mentions a PEM private key block:\n%s", logs.String())
	}
}

func TestLoadFails(t *testing.T) {
	dir := t.TempDir()
	a, b := newTestPair(t, 1, time.Now().Add(time.Hour)), newTestPair(t, 2, time.Now().Add(time.Hour))
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, b.keyPEM)
	tests := []struct {
		name              string
		certFile, keyFile string
	}{
		{name: "mismatched pair", certFile: certFile, keyFile: keyFile},
		{name: "missing certificate", certFile: filepath.Join(dir, "none.pem"), keyFile: keyFile},
		{name: "missing key", certFile: certFile, keyFile: filepath.Join(dir, "none.pem")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(tt.certFile, tt.keyFile, slog.New(slog.DiscardHandler)); err == nil {
				t.Errorf("Load(%s, %s): err = nil, want an error", tt.certFile, tt.keyFile)
			}
		})
	}
}

// startTestServer serves a fresh certificate through a Reloader and returns
// the address and a pool trusting it.
func startTestServer(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	p := newTestPair(t, 7, time.Now().Add(time.Hour))
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, p.certPEM)
	writeFile(t, keyFile, p.keyPEM)
	r, err := Load(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.cert)
	return serve(t, r.Config()), roots
}

func TestProtocolVersionsAndSuites(t *testing.T) {
	addr, roots := startTestServer(t)
	tests := []struct {
		name     string
		min, max uint16
		suites   []uint16
		wantErr  bool
	}{
		{name: "TLS 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, wantErr: true},
		{name: "TLS 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, wantErr: true},
		{name: "TLS 1.2", min: tls.VersionTLS12, max: tls.VersionTLS12},
		{name: "TLS 1.3", min: tls.VersionTLS13, max: tls.VersionTLS13},
		{name: "TLS 1.2 CBC only", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// #nosec G402 -- the point is to offer the server old versions and suites.
			cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tt.min, MaxVersion: tt.max, CipherSuites: tt.suites}
			st, err := handshake(addr, cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("handshake: version %s, suite %s accepted, want refused",
						tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v, want success", err)
			}
			if st.Version != tt.max {
				t.Errorf("version = %s, want %s", tls.VersionName(st.Version), tls.VersionName(tt.max))
			}
			if st.Version == tls.VersionTLS12 && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "ECDHE") {
				t.Errorf("TLS 1.2 suite = %s, want an ECDHE suite", tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}
}

func TestHTTP2AndHSTS(t *testing.T) {
	addr, roots := startTestServer(t)
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
	}
	t.Cleanup(client.CloseIdleConnections)
	_, port, _ := net.SplitHostPort(addr)
	resp, err := client.Get("https://localhost:" + port + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("GET: proto = %s, want HTTP/2.0", resp.Proto)
	}

	h := WithHSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tests := []struct {
		name string
		tls  *tls.ConnectionState
		want string
	}{
		{name: "over TLS", tls: &tls.ConnectionState{}, want: HSTS},
		{name: "plain HTTP", tls: nil, want: ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.TLS = tt.tls
		w := &headerRecorder{h: http.Header{}}
		h.ServeHTTP(w, req)
		if got := w.h.Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("%s: Strict-Transport-Security = %q, want %q", tt.name, got, tt.want)
		}
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func TestOpenSSLHandshake(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl not found, and CI needs this test: %v", err)
		}
		t.Skip("openssl not installed")
	}
	addr, _ := startTestServer(t)
	tests := []struct {
		flag string
		want string
	}{
		{flag: "-tls1_2", want: "TLSv1.2"},
		{flag: "-tls1_3", want: "TLSv1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// #nosec G204 -- fixed arguments and a loopback address from the test's own listener.
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-servername", "localhost", tt.flag)
			cmd.Stdin = strings.NewReader("") // like </dev/null: handshake, then close
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl s_client %s: %v\n%s", tt.flag, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("openssl s_client %s: output lacks %q:\n%s", tt.flag, tt.want, out)
			}
		})
	}
}
