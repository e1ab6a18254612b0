package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/sqlite"
	"github.com/sealauth/sealauth/internal/token"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	const tok = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln"
	long := strings.Repeat("a", maxAuthorization-len("Bearer "))
	tests := []struct {
		name   string
		header string
		want   string // "" when bearer must refuse the header
	}{
		{"canonical", "Bearer " + tok, tok},
		{"lower-case scheme", "bearer " + tok, tok},
		{"upper-case scheme", "BEARER " + tok, tok},
		{"mixed-case scheme", "bEaReR " + tok, tok},
		{"extra spaces before the token", "Bearer    " + tok, tok},
		{"trailing spaces", "Bearer " + tok + "   ", tok},
		{"tab after the separating space", "Bearer \t" + tok, tok},
		{"trailing tab", "Bearer " + tok + "\t", tok},
		{"header of exactly 8 KiB", "Bearer " + long, long},

		{"empty", "", ""},
		{"scheme only", "Bearer", ""},
		{"scheme and a space", "Bearer ", ""},
		{"scheme and spaces", "Bearer     ", ""},
		{"scheme and tabs", "Bearer \t\t", ""},
		{"tab instead of the space", "Bearer\t" + tok, ""},
		{"no space", "Bearer" + tok, ""},
		{"leading space", " Bearer " + tok, ""},
		{"Basic", "Basic x", ""},
		{"Basic credentials", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", ""},
		{"another scheme", "Token " + tok, ""},
		{"scheme with a suffix", "Bearerx " + tok, ""},
		{"scheme with a prefix", "xBearer " + tok, ""},
		{"two tokens", "Bearer " + tok + " " + tok, ""},
		{"space in the token", "Bearer ab cd", ""},
		{"tab in the token", "Bearer ab\tcd", ""},
		{"two schemes", "Bearer Bearer " + tok, ""},
		{"header over 8 KiB", "Bearer " + long + "a", ""},
		{"huge header", "Bearer " + strings.Repeat("a", 1<<20), ""},
		{"huge header of spaces", "Bearer " + strings.Repeat(" ", 1<<20) + tok, ""},
	}
	for _, tt := range tests {
		got, ok := bearer(tt.header)
		if ok != (tt.want != "") || (ok && got != tt.want) {
			t.Errorf("bearer(%s) = %.40q, %v; want %.40q, %v", tt.name, got, ok, tt.want, tt.want != "")
		}
	}
}

// The fuzz issuer has a fixed secret and a fixed clock, so the token in
// testdata/fuzz/FuzzBearer stays valid.
var (
	bearerFuzzNow    = time.Date(2026, time.January, 15, 9, 30, 0, 0, time.UTC)
	bearerFuzzSecret = []byte("sealauth FuzzBearer secret, not a real key")
)

func bearerFuzzIssuer(t testing.TB) *token.Issuer {
	t.Helper()
	is, err := token.NewIssuer(
		token.Config{Issuer: "https://auth.example.test", TTL: 15 * time.Minute, Now: func() time.Time { return bearerFuzzNow }},
		token.Key{ID: "fuzz", Alg: "HS256", Secret: bearerFuzzSecret},
	)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return is
}

// bearerService is a service on a real store with one user, and a valid token
// of that user: requireToken also checks that the token's user exists.
func bearerService(t testing.TB) (*auth.Service, string) {
	t.Helper()
	is := bearerFuzzIssuer(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "users.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := auth.User{Name: "Ada", Email: "ada@example.com", PasswordHash: "$2b$04$x", CreatedAt: bearerFuzzNow}
	if err := st.CreateUser(context.Background(), &u); err != nil {
		t.Fatal(err)
	}
	raw, _, err := is.Issue(u.ID, u.Email, "")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return auth.NewService(auth.Deps{Tokens: is, Store: st, Now: func() time.Time { return bearerFuzzNow }}), raw
}

func TestRequireToken(t *testing.T) {
	t.Parallel()
	svc, raw := bearerService(t)
	h := requireToken(slog.New(slog.DiscardHandler), svc, echoUserID())
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"valid", []string{"Bearer " + raw}, http.StatusOK},
		{"lower-case scheme", []string{"bearer " + raw}, http.StatusOK},
		{"missing", nil, http.StatusUnauthorized},
		{"Basic", []string{"Basic x"}, http.StatusUnauthorized},
		{"tampered", []string{"Bearer " + raw + "x"}, http.StatusUnauthorized},
		{"over 8 KiB", []string{"Bearer " + raw + strings.Repeat("a", maxAuthorization)}, http.StatusUnauthorized},
		// Header.Get reads the first value only.
		{"valid first of two", []string{"Bearer " + raw, "Basic x"}, http.StatusOK},
		{"valid second of two", []string{"Basic x", "Bearer " + raw}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		status, p := serveAuthorization(h, tt.header)
		if status != tt.status {
			t.Errorf("GET /profile (%s): status = %d, want %d", tt.name, status, tt.status)
			continue
		}
		if status == http.StatusUnauthorized && p.Code != auth.CodeInvalidToken {
			t.Errorf("GET /profile (%s): code = %q, want %q", tt.name, p.Code, auth.CodeInvalidToken)
		}
	}
}

// echoUserID answers 200 with the user id of the request's claims.
func echoUserID() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		if c == nil {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		encode(w, http.StatusOK, map[string]int64{"id": c.UserID})
	})
}

// serveAuthorization sends GET /api/auth/profile with the given Authorization
// values and returns the status and, for an error, the problem document.
func serveAuthorization(h http.Handler, values []string) (int, problem) {
	r := httptest.NewRequest(http.MethodGet, "/api/auth/profile", nil)
	if values != nil {
		r.Header["Authorization"] = values
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var p problem
	if w.Code >= 400 {
		_ = json.Unmarshal(w.Body.Bytes(), &p)
	}
	return w.Code, p
}

func FuzzBearer(f *testing.F) {
	svc, raw := bearerService(f)
	h := requireToken(slog.New(slog.DiscardHandler), svc, echoUserID())
	for _, s := range []string{
		"Bearer " + raw,
		"bearer " + raw,
		"BEARER  " + raw + " ",
		"Bearer \t" + raw,
		"Bearer\t" + raw,
		"Bearer " + raw + " " + raw,
		"Bearer",
		"Bearer ",
		"Basic x",
		"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
		"",
		"Bearer ...",
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiI3IiwiaWQiOjd9.",
		"Bearer " + strings.Repeat("a", maxAuthorization),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := bearer(header)
		if ok {
			if tok == "" || strings.ContainsAny(tok, " \t") || !strings.Contains(header, tok) {
				t.Fatalf("bearer(%q) = %q, true", header, tok)
			}
			if len(header) > maxAuthorization || len(header) < len("Bearer x") || !strings.EqualFold(header[:len("Bearer ")], "Bearer ") {
				t.Fatalf("bearer(%q) accepted a header that is too long or not of the Bearer scheme", header)
			}
			if _, err := svc.Authenticate(context.Background(), tok); err != nil {
				if auth.ErrorCode(err) != auth.CodeInvalidToken {
					t.Fatalf("Authenticate(%q) = %v, want code %q", tok, err, auth.CodeInvalidToken)
				}
				if why := clientError(err); why != "" {
					t.Fatalf("Authenticate(%q) = %v: %s", tok, err, why)
				}
			}
		}
		status, p := serveAuthorization(h, []string{header})
		switch status {
		case http.StatusOK:
			if !ok {
				t.Fatalf("Authorization %q: status 200 for a header bearer refuses", header)
			}
		case http.StatusUnauthorized:
			if p.Code != auth.CodeInvalidToken {
				t.Fatalf("Authorization %q: code = %q, want %q", header, p.Code, auth.CodeInvalidToken)
			}
		default:
			t.Fatalf("Authorization %q: status = %d, want 200 or 401", header, status)
		}
	})
}
