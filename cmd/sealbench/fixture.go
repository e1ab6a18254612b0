package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
)

// Sizes of the pools of sealed passwords. Sealing is randomised (OAEP), so
// every entry is a distinct ciphertext; the server keeps no record of the
// ciphertexts it has opened, so cycling through a pool costs it exactly what
// sealing afresh for every request would, while the load generator's time
// goes into sending requests rather than RSA encryption.
const (
	sealedPool = 1024
	wrongPool  = 256
)

// fixture is what the scenarios share: the server, its users and their tokens,
// and pre-built request bodies. Workers only read it, apart from the atomic
// counters and the refresh-token pool.
type fixture struct {
	base     string
	pub      *rsa.PublicKey
	runID    string
	password string
	users    []benchUser
	// badBearer is a valid token of users[0] with one signature byte changed.
	badBearer   string
	loginBodies [][]byte // the right password, sealed, for each user in turn
	sealed      []string // the right password, sealed, for register
	wrong       []string // a wrong password, sealed
	cursor      atomic.Uint64
	regSeq      atomic.Uint64
	wrongSeq    atomic.Uint64
	// chains holds refresh tokens, each the head of its own session's
	// rotation chain; nil when the server issues none (refreshNote says why).
	chains      chan string
	refreshNote string
	profileSize int
	sealTime    time.Duration // client-side cost of sealing one password
}

type benchUser struct {
	email  string
	bearer string // "Bearer <access token>"
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// prepare registers and logs in the users, seals the password pools, and,
// when the server issues refresh tokens and a scenario needs them, logs in
// chains more sessions for the refresh pool.
func prepare(ctx context.Context, base string, users, chains int) (*fixture, error) {
	fx := &fixture{base: base, runID: strings.ToLower(rand.Text()[:8])}
	// The password is random, so it is in no list of common ones.
	fx.password = "sb-" + rand.Text()
	api := newAPIClient(base)
	defer api.close()

	var pk struct {
		PublicKey string `json:"public_key"`
	}
	if err := api.call(ctx, http.MethodGet, "/api/auth/public-key", "", nil, http.StatusOK, &pk); err != nil {
		return nil, err
	}
	pub, err := keys.ParseRSAPublicKeyPEM([]byte(pk.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	fx.pub = pub
	if err := fx.sealPools(); err != nil {
		return nil, err
	}

	fx.users = make([]benchUser, users)
	width := 2 * runtime.GOMAXPROCS(0) // bcrypt-bound: more would only queue
	err = parallel(ctx, users, width, func(i int) error {
		email := fmt.Sprintf("sb-%s-u%d@bench.example", fx.runID, i)
		in := map[string]string{"name": "Bench User", "email": email, "password": fx.sealed[i%len(fx.sealed)]}
		if err := api.call(ctx, http.MethodPost, "/api/auth/register", "", in, http.StatusCreated, nil); err != nil {
			return err
		}
		tok, err := api.login(ctx, email, fx.sealed[(i+1)%len(fx.sealed)])
		fx.users[i] = benchUser{email: email, bearer: "Bearer " + tok.AccessToken}
		if i == 0 && err == nil && tok.RefreshToken == "" {
			fx.refreshNote = "the server's login response carries no refresh_token"
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	fx.loginBodies = make([][]byte, len(fx.sealed))
	for i, s := range fx.sealed {
		fx.loginBodies[i], _ = json.Marshal(map[string]string{"email": fx.users[i%len(fx.users)].email, "password": s})
	}

	profile, err := api.raw(ctx, http.MethodGet, "/api/auth/profile", fx.users[0].bearer, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	fx.profileSize = len(profile)
	fx.badBearer = "Bearer " + corruptSignature(strings.TrimPrefix(fx.users[0].bearer, "Bearer "))
	if _, err := api.raw(ctx, http.MethodGet, "/api/auth/profile", fx.badBearer, nil, http.StatusUnauthorized); err != nil {
		return nil, fmt.Errorf("token with a bad signature: %w", err)
	}
	if chains > 0 && fx.refreshNote == "" {
		if err := fx.prepareChains(ctx, api, chains, width); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

// sealPools seals the right password sealedPool times, timing it, and the
// wrong one wrongPool times.
func (fx *fixture) sealPools() (err error) {
	start := time.Now()
	fx.sealed = make([]string, sealedPool)
	for i := range fx.sealed {
		if fx.sealed[i], err = seal.Seal(fx.pub, []byte(fx.password)); err != nil {
			return err
		}
	}
	fx.sealTime = time.Since(start) / sealedPool
	fx.wrong = make([]string, wrongPool)
	for i := range fx.wrong {
		if fx.wrong[i], err = seal.Seal(fx.pub, []byte(fx.password+"!")); err != nil {
			return err
		}
	}
	return nil
}

// prepareChains logs in n sessions for the refresh pool and checks that
// POST /api/auth/refresh exists.
func (fx *fixture) prepareChains(ctx context.Context, api *apiClient, n, width int) error {
	tokens := make([]string, n)
	err := parallel(ctx, n, width, func(i int) error {
		u := fx.users[i%len(fx.users)]
		tok, err := api.login(ctx, u.email, fx.sealed[(i+7)%len(fx.sealed)])
		tokens[i] = tok.RefreshToken
		return err
	})
	if err != nil {
		return err
	}
	var next tokenResponse
	err = api.call(ctx, http.MethodPost, "/api/auth/refresh", "", map[string]string{"refresh_token": tokens[0]}, http.StatusOK, &next)
	var se *statusError
	switch {
	case errors.As(err, &se) && (se.status == http.StatusNotFound || se.status == http.StatusMethodNotAllowed):
		fx.refreshNote = fmt.Sprintf("POST /api/auth/refresh answers %d", se.status)
		return nil
	case err != nil:
		return err
	case next.RefreshToken == "":
		fx.refreshNote = "the refresh response carries no refresh_token"
		return nil
	}
	tokens[0] = next.RefreshToken
	fx.chains = make(chan string, n)
	for _, t := range tokens {
		fx.chains <- t
	}
	return nil
}

// wrongBody is a login with a wrong password for an email that has no
// account, a new one each time. The server does the same work for it as for a
// wrong password of an existing account (a bcrypt comparison, then 401), but
// no account collects failures: with few accounts, its per-account throttle
// (429 after 10 consecutive failures) would soon answer instead, and the
// scenario would measure the throttle rather than the check.
func (fx *fixture) wrongBody(n uint64) []byte {
	b, _ := json.Marshal(map[string]string{
		"email":    fmt.Sprintf("sb-%s-w%d@bench.example", fx.runID, n),
		"password": fx.wrong[n%uint64(len(fx.wrong))],
	})
	return b
}

// registerBody is a registration with a unique email.
func (fx *fixture) registerBody(n uint64) []byte {
	b, _ := json.Marshal(map[string]string{
		"name":     "Bench User",
		"email":    fmt.Sprintf("sb-%s-r%d@bench.example", fx.runID, n),
		"password": fx.sealed[n%uint64(len(fx.sealed))],
	})
	return b
}

// corruptSignature changes one character in the middle of a JWT's signature,
// so the token is well-formed but its signature does not verify.
func corruptSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || i+2 >= len(tok) {
		return tok + "x"
	}
	j := i + 1 + (len(tok)-i-1)/2
	c := byte('A')
	if tok[j] == 'A' {
		c = 'B'
	}
	return tok[:j] + string(c) + tok[j+1:]
}

// apiClient makes the set-up calls: a few of each, so plain and unhurried.
type apiClient struct {
	base   string
	client *http.Client
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, client: &http.Client{
		Timeout:   2 * time.Minute, // bcrypt at a high cost on a busy machine
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true},
	}}
}

func (a *apiClient) close() { a.client.CloseIdleConnections() }

// statusError is an answer other than the expected one.
type statusError struct {
	method, path string
	status, want int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status = %d, want %d: %.300s", e.method, e.path, e.status, e.want, e.body)
}

// raw sends in (as JSON, unless nil) and returns the body of an answer with
// status want.
func (a *apiClient) raw(ctx context.Context, method, path, bearer string, in any, want int) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	// #nosec G704 -- a.base is loopback: the server this harness started or a --url checkLoopbackURL accepted.
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	resp, err := a.client.Do(req) // #nosec G704 -- as above
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, &statusError{method: method, path: path, status: resp.StatusCode, want: want, body: string(out)}
	}
	return out, nil
}

// call is raw with the answer decoded into out, unless out is nil.
func (a *apiClient) call(ctx context.Context, method, path, bearer string, in any, want int, out any) error {
	b, err := a.raw(ctx, method, path, bearer, in, want)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (a *apiClient) login(ctx context.Context, email, sealed string) (tokenResponse, error) {
	var tok tokenResponse
	err := a.call(ctx, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": sealed}, http.StatusOK, &tok)
	if err == nil && tok.AccessToken == "" {
		err = errors.New("POST /api/auth/login: no access_token in the answer")
	}
	return tok, err
}

// parallel calls f(0) … f(n-1), width at a time, and returns the first error.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     atomic.Int64
	)
	for range min(n, width) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		return ctx.Err()
	}
	return firstErr
}
