package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func devLeaf(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadX509KeyPair: %v", err)
	}
	return pair.Leaf
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDevCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	certFile, keyFile, err := DevCertificate(dir, []string{"auth.test", " ", "10.0.0.5", "localhost"})
	if err != nil {
		t.Fatalf("DevCertificate: %v", err)
	}
	if certFile != filepath.Join(dir, DevCertFile) || keyFile != filepath.Join(dir, DevKeyFile) {
		t.Errorf("DevCertificate paths = %s, %s, want %s and %s in %s", certFile, keyFile, DevCertFile, DevKeyFile, dir)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}

	leaf := devLeaf(t, certFile, keyFile)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "auth.test", "10.0.0.5"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}
	if leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %x has %d bits, want a random one of at least 64", leaf.SerialNumber, leaf.SerialNumber.BitLen())
	}
	if left := time.Until(leaf.NotAfter); left < 29*24*time.Hour || left > 31*24*time.Hour {
		t.Errorf("certificate valid for %v more, want about 30 days", left)
	}

	// The same names: reused, byte for byte.
	before := readFile(t, certFile)
	if _, _, err := DevCertificate(dir, []string{"auth.test", "10.0.0.5"}); err != nil {
		t.Fatalf("second DevCertificate: %v", err)
	}
	after := readFile(t, certFile)
	if !bytes.Equal(before, after) {
		t.Errorf("second DevCertificate with the same hosts made a new certificate, want the first reused")
	}

	// A new name: remade, covering it.
	if _, _, err := DevCertificate(dir, []string{"other.test"}); err != nil {
		t.Fatalf("DevCertificate(other.test): %v", err)
	}
	if got := devLeaf(t, certFile, keyFile); got.SerialNumber.Cmp(leaf.SerialNumber) == 0 || got.VerifyHostname("other.test") != nil {
		t.Errorf("DevCertificate(other.test) kept serial %x, want a new certificate covering other.test", got.SerialNumber)
	}
}

func TestDevCertificateRenewsSoonExpired(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, DevCertFile), filepath.Join(dir, DevKeyFile)
	old := newTestPair(t, 42, time.Now().Add(12*time.Hour))
	writeFile(t, certFile, old.certPEM)
	// A key left readable by others is replaced by one that is not.
	if err := os.WriteFile(keyFile, old.keyPEM, 0o644); err != nil { // #nosec G306 -- the loose mode is what is under test

		t.Fatal(err)
	}
	if _, _, err := DevCertificate(dir, nil); err != nil {
		t.Fatalf("DevCertificate: %v", err)
	}
	if got := devLeaf(t, certFile, keyFile); got.SerialNumber.Int64() == old.serial {
		t.Errorf("certificate expiring in 12h was reused, want a new one")
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode after renewal = %o, want 600", mode)
	}
}

// TestDevCertificateServes checks that clients that trust the dev
// certificate can reach the server by every loopback name.
func TestDevCertificateServes(t *testing.T) {
	certFile, keyFile, err := DevCertificate(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("DevCertificate: %v", err)
	}
	r, err := Load(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	addr := serve(t, r.Config())
	roots := x509.NewCertPool()
	roots.AddCert(devLeaf(t, certFile, keyFile))
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := handshake(addr, &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}); err != nil {
			t.Errorf("handshake as %s: %v", name, err)
		}
	}
}
