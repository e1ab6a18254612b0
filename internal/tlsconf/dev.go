package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Dev certificate file names and lifetimes.
const (
	DevCertFile = "dev-tls-cert.pem"
	DevKeyFile  = "dev-tls-key.pem"

	// devValidity is short because nothing should depend on a dev
	// certificate for long; it is remade when needed anyway.
	devValidity = 30 * 24 * time.Hour
	// devMinRemaining is how long an existing certificate must stay valid to
	// be reused, so a developer is never handed one that expires mid-session.
	devMinRemaining = 24 * time.Hour
)

// DevCertificate returns the paths of a self-signed ECDSA P-256 certificate
// and key in dir (DevCertFile and DevKeyFile) for localhost, 127.0.0.1, ::1
// and hosts, for `sealauth serve --dev-tls`. A pair already there is reused
// while it covers those names and stays valid for more than a day, so the
// developer trusts it once; otherwise a new pair, valid for 30 days, replaces
// it. The key file is readable by its owner only. Browsers and clients will
// not trust the certificate until told to: it is for local use only.
func DevCertificate(dir string, hosts []string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, DevCertFile)
	keyFile = filepath.Join(dir, DevKeyFile)
	names := devNames(hosts)
	now := time.Now()
	if devReusable(certFile, keyFile, names, now) {
		return certFile, keyFile, nil
	}

	certPEM, keyPEM, err := newDevPair(names, now)
	if err != nil {
		return "", "", fmt.Errorf("dev tls certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("dev tls certificate: %w", err)
	}
	// The key goes first: a crash in between leaves a mismatched pair, which
	// the next call does not reuse.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("dev tls key: %w", err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("dev tls certificate: %w", err)
	}
	return certFile, keyFile, nil
}

// devNames returns the loopback names followed by hosts, trimmed, without
// blanks or repeats.
func devNames(hosts []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	seen := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h != "" && !seen[h] {
			seen[h] = true
			names = append(names, h)
		}
	}
	return names
}

// devReusable reports whether the pair on disk loads, matches, covers names
// and stays valid for long enough. Any problem means "make a new one".
func devReusable(certFile, keyFile string, names []string, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || pair.Leaf == nil {
		return false
	}
	leaf := pair.Leaf
	if now.Before(leaf.NotBefore) || !now.Add(devMinRemaining).Before(leaf.NotAfter) {
		return false
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func newDevPair(names []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	// 128 random bits: serials must be unique per issuer, and a browser
	// that cached an earlier dev certificate must not confuse the two.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sealauth development", Organization: []string{"sealauth dev-tls"}},
		// An hour back tolerates a client clock a little behind this one.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, so a reader never sees half a file and the mode is perm
// even when path existed with a looser one (os.WriteFile keeps the old mode).
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close() // the write error is the one worth reporting
		return err
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
