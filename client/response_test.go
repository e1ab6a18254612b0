package client_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealauth/sealauth/client"
)

// The real server never sends these answers; a proxy or a broken deployment
// might. A stand-in server gives them here.

func standIn(t *testing.T, h http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResponses(t *testing.T) {
	t.Parallel()
	const token = "tok-0123456789-secret"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(t *testing.T, err error)
	}{
		{
			name: "oversized success body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":1,"name":"` + strings.Repeat("x", client.MaxResponseBytes) + `"}`))
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "over") {
					t.Errorf("err = %v, want a body-too-large error", err)
				}
			},
		},
		{
			name: "HTML page of a proxy",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html><body>Bad gateway " + token + "</body></html>"))
			},
			check: func(t *testing.T, err error) {
				var e *client.Error
				if !errors.As(err, &e) || e.Status != http.StatusBadGateway || e.Code != "" || e.Detail != "" || e.Title != "Bad Gateway" {
					t.Fatalf("err = %#v, want a 502 *Error without code or detail", err)
				}
				if e.RetryAfter < 80*time.Second || e.RetryAfter > 90*time.Second {
					t.Errorf("RetryAfter = %v from an HTTP date 90 s ahead, want about 90 s", e.RetryAfter)
				}
			},
		},
		{
			name: "problem echoing the token",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Retry-After", "7")
				w.Header().Set("X-Request-Id", "req-1\r\nforged")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"status":503,"title":"Service Unavailable","code":"service_unavailable","detail":"busy for ` + token + `\nforged line","errors":[{"field":"x","message":"y"}]}`))
			},
			check: func(t *testing.T, err error) {
				var e *client.Error
				if !errors.As(err, &e) || !client.IsCode(err, client.CodeServiceUnavailable) || e.RetryAfter != 7*time.Second {
					t.Fatalf("err = %v, want service_unavailable with RetryAfter 7s", err)
				}
				if strings.Contains(err.Error(), token) || strings.ContainsAny(err.Error(), "\r\n") {
					t.Errorf("err = %q, want no token and no line break", err)
				}
				if len(e.Fields) != 1 || e.Fields[0] != (client.FieldError{Field: "x", Message: "y"}) {
					t.Errorf("Fields = %+v, want [{x y}]", e.Fields)
				}
			},
		},
		{
			name: "plain text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "400 Bad Request: missing required Host header\nmore", http.StatusBadRequest)
			},
			check: func(t *testing.T, err error) {
				var e *client.Error
				if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "" || e.Detail != "400 Bad Request: missing required Host header" {
					t.Errorf("err = %#v, want a 400 with the first line as Detail", err)
				}
			},
		},
		{
			name: "success that is not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("<html>hello</html>"))
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "decode response") {
					t.Errorf("err = %v, want a decode error", err)
				}
			},
		},
		{
			name: "redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
			},
			check: func(t *testing.T, err error) {
				var e *client.Error
				if !errors.As(err, &e) || e.Status != http.StatusFound {
					t.Errorf("err = %v, want the 302 as an *Error, not followed", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := standIn(t, tt.handler)
			_, err := c.Profile(t.Context(), token)
			tt.check(t, err)
		})
	}
}

// TestPublicKeyRefused: the client seals to nothing but an RSA-OAEP-256 key
// of at least 2048 bits.
func TestPublicKeyRefused(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"other algorithm": `{"kid":"k","alg":"RSA1_5","public_key":"x"}`,
		"no PEM":          `{"kid":"k","alg":"RSA-OAEP-256","public_key":"not pem"}`,
		"private key PEM": `{"kid":"k","alg":"RSA-OAEP-256","public_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`,
	} {
		c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
		if _, err := c.Login(t.Context(), "a@example.com", goodPassword); err == nil || !strings.Contains(err.Error(), "public key") {
			t.Errorf("%s: Login = %v, want a public key error", name, err)
		}
	}
}

// TestPublicKeyFetchedOnce: concurrent first calls share one fetch of the
// key; after an unknown_key the key is fetched once more and the call repeated.
func TestPublicKeyFetchedOnce(t *testing.T) {
	t.Parallel()
	key := fakeKey()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	var fetches, logins atomic.Int64
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/auth/public-key":
			n := fetches.Add(1)
			time.Sleep(20 * time.Millisecond) // let the other callers pile up
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"kid": fmt.Sprint("k", n), "alg": "RSA-OAEP-256", "public_key": pemKey})
		case "/api/auth/login":
			logins.Add(1)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":400,"code":"unknown_key","detail":"fetch the key again"}`))
		}
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.PublicKey(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("20 concurrent PublicKey calls fetched %d times, want 1", n)
	}
	_, err = c.Login(t.Context(), "a@example.com", goodPassword)
	if !client.IsCode(err, client.CodeUnknownKey) || fetches.Load() != 2 || logins.Load() != 2 {
		t.Errorf("Login with unknown_key twice = %v after %d fetches and %d logins, want unknown_key after 2 and 2", err, fetches.Load(), logins.Load())
	}
	if k, err := c.PublicKey(t.Context()); err != nil || k.KID != "k3" {
		t.Errorf("PublicKey after a refused refetched key = %+v, %v; want a third fetch", k, err)
	}
}
