// Package tlsconf serves HTTPS for sealauth: a TLS configuration whose
// certificate is reloaded from disk when the operator replaces it, a
// self-signed certificate for local development, and the HSTS policy sent
// when serving TLS.
//
// The certificate files are re-read during handshakes, at most once every
// check interval, rather than by a background goroutine: there is nothing to
// start, stop or leak, a server that nobody connects to has no reason to look,
// and the first handshake after a change already gets the new certificate.
// The price is that one handshake per interval reads two small files.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often, at most, the certificate files are
// re-read. Renewal tools replace certificates days before they expire, so a
// few seconds of delay is harmless, and it keeps file reads off almost every
// handshake.
const DefaultCheckInterval = 5 * time.Second

// HSTSHeader is the name of the header that carries [HSTS].
const HSTSHeader = "Strict-Transport-Security"

// HSTS is the Strict-Transport-Security value sent over TLS: two years, the
// lifetime hstspreload.org asks for and long enough that a returning browser
// never falls back to plain HTTP, covering subdomains because an auth server's
// cookies and tokens must not leak through a sibling host served over HTTP.
// It deliberately omits "preload": preloading is hard to undo and is the
// domain owner's decision, not this server's.
const HSTS = "max-age=63072000; includeSubDomains"

// WithHSTS returns a handler that adds the [HSTS] header to responses to
// requests that arrived over TLS, then calls next. Browsers ignore the header
// over plain HTTP (RFC 6797 section 8.1), so it is not sent there.
func WithHSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set(HSTSHeader, HSTS)
		}
		next.ServeHTTP(w, r)
	})
}

// Option changes how [Load] builds a [Reloader].
type Option func(*Reloader)

// WithCheckInterval sets how often, at most, the certificate files are
// re-read; d <= 0 keeps [DefaultCheckInterval].
func WithCheckInterval(d time.Duration) Option {
	return func(r *Reloader) {
		if d > 0 {
			r.interval = d
		}
	}
}

// Reloader serves a certificate loaded from a pair of PEM files and picks up
// new files without a restart. A pair that fails to load (a half-written
// file, a certificate written before its key) is logged once as a warning and
// the previous certificate stays in use; the files are checked again at the
// next interval. It is safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	interval          time.Duration

	cert      atomic.Pointer[tls.Certificate]
	nextCheck atomic.Int64 // Unix nanoseconds before which the files are not read

	mu     sync.Mutex // serialises reloads and guards the fields below
	sums   pairSums   // of the files behind cert
	failed failure    // the last failure warned about, so a broken pair warns once
}

// pairSums identifies the contents of a certificate and key file pair.
type pairSums [2][sha256.Size]byte

type failure struct {
	sums pairSums
	msg  string
}

// Load reads the PEM certificate chain in certFile and the private key in
// keyFile and returns a Reloader serving them. Unlike later reloads, a first
// load that fails is an error: there is no previous certificate to fall back
// on.
func Load(certFile, keyFile string, logger *slog.Logger, opts ...Option) (*Reloader, error) {
	r := &Reloader{
		certFile: certFile,
		keyFile:  keyFile,
		logger:   logger,
		interval: DefaultCheckInterval,
	}
	for _, o := range opts {
		o(r)
	}
	cert, sums, err := r.read()
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	r.sums = sums
	r.nextCheck.Store(time.Now().Add(r.interval).UnixNano())
	return r, nil
}

// Config returns a new TLS configuration for an [http.Server] that serves the
// Reloader's current certificate. It accepts TLS 1.2 and 1.3; TLS 1.2 is
// limited to forward-secret AEAD suites (TLS 1.3 suites are not
// configurable and all qualify), and ALPN offers HTTP/2 and HTTP/1.1.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12CipherSuites(),
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.certificate,
	}
}

// tls12CipherSuites lists the ECDHE AEAD suites. It includes
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, which HTTP/2 requires (RFC 7540
// section 9.2.2), and suits both ECDSA and RSA certificates.
func tls12CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

func (r *Reloader) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeReload()
	return r.cert.Load(), nil
}

// maybeReload re-reads the files if the interval has passed. The
// compare-and-swap lets exactly one of the handshakes that notice the
// deadline do the work; the others serve the current certificate unhindered.
func (r *Reloader) maybeReload() {
	now := time.Now()
	next := r.nextCheck.Load()
	if now.UnixNano() < next || !r.nextCheck.CompareAndSwap(next, now.Add(r.interval).UnixNano()) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	cert, sums, err := r.read()
	if err != nil {
		f := failure{sums: sums, msg: err.Error()}
		if f != r.failed {
			r.failed = f
			// The error names the file and what is wrong with it; neither
			// crypto/tls nor os put key material in their errors.
			r.logger.Warn("tls: certificate reload failed, still serving the previous certificate",
				slog.String("cert_file", r.certFile), slog.String("key_file", r.keyFile),
				slog.String("error", err.Error()))
		}
		return
	}
	r.failed = failure{}
	if sums == r.sums {
		return
	}
	r.cert.Store(cert)
	r.sums = sums
	r.logger.Info("tls: certificate reloaded",
		slog.String("cert_file", r.certFile),
		slog.String("serial", cert.Leaf.SerialNumber.Text(16)),
		slog.Time("not_after", cert.Leaf.NotAfter))
}

// read loads the pair from disk. The files are read whole and hashed rather
// than compared by modification time and size, which can miss a quick
// same-size rewrite and costs hardly less for files this small. On a parse
// error it still returns the sums, so the same broken pair is recognised.
func (r *Reloader) read() (*tls.Certificate, pairSums, error) {
	var sums pairSums
	certPEM, err := os.ReadFile(filepath.Clean(r.certFile))
	if err != nil {
		return nil, sums, fmt.Errorf("tls certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Clean(r.keyFile))
	if err != nil {
		return nil, sums, fmt.Errorf("tls key: %w", err)
	}
	sums = pairSums{sha256.Sum256(certPEM), sha256.Sum256(keyPEM)}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, sums, fmt.Errorf("tls pair %s, %s: %w", r.certFile, r.keyFile, err)
	}
	return &cert, sums, nil
}
