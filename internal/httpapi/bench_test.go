package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/httpapi"
	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/store/sqlite"
	"github.com/sealauth/sealauth/internal/token"
)

// staticKeys serves fixed key documents; the benchmarks do not read them.
type staticKeys struct{}

func (staticKeys) PublicKeyJSON() []byte { return []byte(`{}`) }
func (staticKeys) JWKSJSON() []byte      { return []byte(`{"keys":[]}`) }

var sealingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// newAPI wires the real handler over a real SQLite store, as serve does, with
// bcrypt at cost 4 unless the benchmark says otherwise.
func newAPI(tb testing.TB, cost int) (http.Handler, *rsa.PublicKey) {
	tb.Helper()
	priv, err := sealingKey()
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	hasher, err := password.NewHasher(cost)
	if err != nil {
		tb.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	issuer, err := token.NewIssuer(token.Config{Issuer: "bench", TTL: time.Hour}, token.Key{ID: "k1", Alg: "ES256", Signer: ec})
	if err != nil {
		tb.Fatal(err)
	}
	svc := auth.NewService(auth.Deps{
		Store:  st,
		Opener: seal.NewOpener([]seal.Key{{ID: "s1", Private: priv}}, false),
		Hasher: hasher,
		Tokens: issuer,
	})
	return httpapi.NewServer(discardLogger(), svc, staticKeys{}, httpapi.Options{}), &priv.PublicKey
}

func serve(h http.Handler, method, path, body, auth string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if auth != "" {
		r.Header.Set("Authorization", "Bearer "+auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func registerAndLogin(tb testing.TB, h http.Handler, pub *rsa.PublicKey) (loginBody, accessToken string) {
	tb.Helper()
	sealed, err := seal.Seal(pub, []byte("correct horse battery staple"))
	if err != nil {
		tb.Fatal(err)
	}
	if w := serve(h, "POST", "/api/auth/register", `{"name":"B","email":"b@example.com","password":"`+sealed+`"}`, ""); w.Code != http.StatusCreated {
		tb.Fatalf("POST /register: status = %d, want 201: %s", w.Code, w.Body)
	}
	loginBody = `{"email":"b@example.com","password":"` + sealed + `"}`
	w := serve(h, "POST", "/api/auth/login", loginBody, "")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		tb.Fatalf("POST /login: status = %d, want 200: %s", w.Code, w.Body)
	}
	return loginBody, out.AccessToken
}

func BenchmarkProfile(b *testing.B) {
	h, pub := newAPI(b, 4)
	_, tok := registerAndLogin(b, h, pub)
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h, "GET", "/api/auth/profile", "", tok); w.Code != http.StatusOK {
			b.Fatalf("GET /profile: status = %d", w.Code)
		}
	}
}

// BenchmarkLogin runs at the default bcrypt cost, 12, since that is what bounds
// a real login; the RSA opening and the token are the rest.
func BenchmarkLogin(b *testing.B) {
	h, pub := newAPI(b, 12)
	body, _ := registerAndLogin(b, h, pub)
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h, "POST", "/api/auth/login", body, ""); w.Code != http.StatusOK {
			b.Fatalf("POST /login: status = %d", w.Code)
		}
	}
}

// BenchmarkRegister runs at bcrypt cost 4: the handler's own cost, not the
// hashing (BenchmarkCompare in internal/password measures that).
func BenchmarkRegister(b *testing.B) {
	h, pub := newAPI(b, 4)
	sealed, err := seal.Seal(pub, []byte("correct horse battery staple"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := `{"name":"B","email":"b` + strconv.Itoa(i) + `@example.com","password":"` + sealed + `"}`
		if w := serve(h, "POST", "/api/auth/register", body, ""); w.Code != http.StatusCreated {
			b.Fatalf("POST /register: status = %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRefresh rotates one session's refresh token again and again.
func BenchmarkRefresh(b *testing.B) {
	h, pub := newAPI(b, 4)
	body, _ := registerAndLogin(b, h, pub)
	w := serve(h, "POST", "/api/auth/login", body, "")
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := serve(h, "POST", "/api/auth/refresh", `{"refresh_token":"`+out.RefreshToken+`"}`, "")
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			b.Fatalf("POST /refresh: status = %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkSessions lists the sessions of a user with a handful of them.
func BenchmarkSessions(b *testing.B) {
	h, pub := newAPI(b, 4)
	body, tok := registerAndLogin(b, h, pub)
	for range 4 {
		serve(h, "POST", "/api/auth/login", body, "")
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h, "GET", "/api/auth/sessions", "", tok); w.Code != http.StatusOK {
			b.Fatalf("GET /sessions: status = %d", w.Code)
		}
	}
}

// BenchmarkLogout measures logout alone; each round logs in first, off the clock.
func BenchmarkLogout(b *testing.B) {
	h, pub := newAPI(b, 4)
	body, _ := registerAndLogin(b, h, pub)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		w := serve(h, "POST", "/api/auth/login", body, "")
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if w := serve(h, "POST", "/api/auth/logout", "", out.AccessToken); w.Code != http.StatusOK {
			b.Fatalf("POST /logout: status = %d", w.Code)
		}
	}
}

func BenchmarkPublicKey(b *testing.B) {
	h, _ := newAPI(b, 4)
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h, "GET", "/api/auth/public-key", "", ""); w.Code != http.StatusOK {
			b.Fatalf("GET /public-key: status = %d", w.Code)
		}
	}
}
