package client_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/sealauth/sealauth/client"
)

// fakeKey is the sealing key of fakeSealauth, made once.
var fakeKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakeSealauth answers like a sealauth server for one user, ada@example.com
// with the password "correct horse battery staple", at /public-key, /login
// and /profile: enough for the examples to run without the real server.
func fakeSealauth() *httptest.Server {
	key := fakeKey()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	problem := func(w http.ResponseWriter, status int, code, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:sealauth:error:" + code,
			"title": http.StatusText(status), "status": status, "detail": detail, "code": code})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/auth/public-key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"kid": "k1", "alg": "RSA-OAEP-256", "public_key": pemKey})
	})
	mux.HandleFunc("POST /api/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password, KID string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.KID != "k1" {
			problem(w, http.StatusBadRequest, "invalid_json", "Bad request.")
			return
		}
		ct, err := base64.StdEncoding.DecodeString(in.Password)
		if err != nil {
			problem(w, http.StatusBadRequest, "invalid_sealed_password", "The password must be sealed.")
			return
		}
		pw, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct, nil)
		if err != nil {
			problem(w, http.StatusBadRequest, "invalid_sealed_password", "The password must be sealed.")
			return
		}
		if in.Email != "ada@example.com" || string(pw) != "correct horse battery staple" {
			problem(w, http.StatusUnauthorized, "invalid_credentials", "Invalid credentials")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"user":         map[string]any{"id": 1, "name": "Ada", "email": "ada@example.com"},
			"access_token": "access-1", "token_type": "Bearer", "expires_in": 900, "refresh_token": "refresh-1",
		})
	})
	mux.HandleFunc("GET /api/auth/profile", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer access-1" {
			problem(w, http.StatusUnauthorized, "invalid_token", "Invalid or expired token")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 1, "name": "Ada", "email": "ada@example.com",
			"created_at": "2025-01-02T03:04:05Z", "exp": time.Now().Add(15 * time.Minute).Unix()})
	})
	return httptest.NewServer(mux)
}

// A login and a look at the profile. The password is sealed inside Login.
func Example() {
	srv := fakeSealauth() // in real use, the URL of the sealauth server
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithUserAgent("example-app/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tokens, err := c.Login(ctx, "ada@example.com", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tokens.TokenType, tokens.ExpiresIn)

	profile, err := c.Profile(ctx, tokens.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(profile.Name, profile.Email, profile.CreatedAt.Format(time.DateOnly))
	// Output:
	// Bearer 15m0s
	// Ada ada@example.com 2025-01-02
}

// Switching on the stable error code of a refusal.
func ExampleIsCode() {
	srv := fakeSealauth()
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.Login(context.Background(), "ada@example.com", "a wrong password")
	var e *client.Error
	switch {
	case client.IsCode(err, client.CodeInvalidCredentials):
		fmt.Println("wrong email or password")
	case client.IsCode(err, client.CodeRateLimited) && errors.As(err, &e):
		fmt.Println("try again in", e.RetryAfter)
	case err != nil:
		log.Fatal(err)
	}
	// Output: wrong email or password
}

// Keeping a session alive: refresh before the access token expires, and
// store the new pair, since a refresh token works only once.
func ExampleClient_Refresh() {
	c, err := client.New("http://127.0.0.1:8000")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tokens, err := c.Login(ctx, "ada@example.com", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	if time.Until(tokens.Expiry) < time.Minute {
		if tokens, err = c.Refresh(ctx, tokens.RefreshToken); err != nil {
			log.Fatal(err) // invalid_token: log in again
		}
	}
	fmt.Println(tokens.User.Email)
}

// Listing the sessions of a user and ending all but the current one.
func ExampleClient_Sessions() {
	c, err := client.New("http://127.0.0.1:8000")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	const accessToken = "…" // from Login
	sessions, err := c.Sessions(ctx, accessToken)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sessions {
		if !s.Current {
			fmt.Println("ending the session of", s.UserAgent, "from", s.IP)
			if err := c.EndSession(ctx, accessToken, s.ID); err != nil {
				log.Fatal(err)
			}
		}
	}
	// The same in one call:
	if err := c.Logout(ctx, accessToken, client.ScopeOthers); err != nil {
		log.Fatal(err)
	}
}
