// Package auth is the domain of sealauth: users, the register/login/logout flows,
// the error codes the API speaks, and the contracts (Store, Opener) it consumes.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/token"
)

// Opener opens sealed passwords; *seal.Opener implements it. It returns
// seal.ErrUnknownKey, seal.ErrMalformed or seal.ErrDecryption.
type Opener interface {
	Open(kid, sealed string) ([]byte, error)
}

// Tokens issues and verifies access tokens; *token.Issuer and the key ring
// implement it.
type Tokens interface {
	Issue(userID int64, email, sessionID string) (string, *token.Claims, error)
	Verify(raw string) (*token.Claims, error)
	TTL() time.Duration
}

// Throttle slows down password guessing on one account; the ratelimit
// package's Failures implement it (in memory, or shared through Redis).
type Throttle interface {
	// Check returns how long the key is still throttled, recording nothing.
	Check(ctx context.Context, key string) (time.Duration, error)
	// Attempt counts an attempt as a failure until Reset, unless the key is
	// throttled, and returns how long it is throttled.
	Attempt(ctx context.Context, key string) (time.Duration, error)
	Reset(ctx context.Context, key string) error
}

// Deps are what a Service is built from.
type Deps struct {
	Store  Store
	Opener Opener
	Hasher *password.Hasher
	Tokens Tokens
	Logger *slog.Logger
	Now    func() time.Time
	// LegacyPKCS1 is set when old clients may seal with PKCS#1 v1.5. Then a
	// failed opening at login must look exactly like a wrong password, so that
	// the server is no padding oracle (Bleichenbacher).
	LegacyPKCS1 bool
	// Session lifetimes; zero means the Default values.
	IdleTimeout, MaxLifetime, ReuseGrace time.Duration
	// Throttle, if set, throttles logins per account.
	Throttle Throttle
	// HashWorkers bounds concurrent password work (opening and bcrypt);
	// HashQueue bounds the requests waiting for a worker. Zero means the
	// number of cores and eight times that.
	HashWorkers, HashQueue int
}

// Service runs the authentication flows. It is safe for concurrent use.
type Service struct {
	Deps
	revoked *revocationSet
	work    *workLimiter
	users   *userCache
}

// NewService returns a Service. Call Run to keep its revocation set current.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{Deps: d, revoked: newRevocationSet(), work: newWorkLimiter(d.HashWorkers, d.HashQueue), users: newUserCache()}
}

// RegisterInput is the body of POST /register.
type RegisterInput struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
	KID      string `json:"kid,omitempty"`
}

// LoginInput is the body of POST /login.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	KID      string `json:"kid,omitempty"`
}

// Login is the result of a successful login or refresh: a new token pair.
type Login struct {
	User         User
	AccessToken  string
	Claims       *token.Claims
	RefreshToken string
}

// NormalizeEmail trims and lower-cases an email. It is applied in the
// application, not the database, because MySQL, PostgreSQL and SQLite compare
// text differently.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	// ParseAddress accepts display names ("Bob <b@x.org>"); only a bare address
	// that survives the round trip is an email.
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
		return "must be a valid email address"
	}
	return ""
}

func validateName(name string) string {
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case n == 0:
		return "is required"
	case n > 100:
		return "must be at most 100 characters"
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// open turns a sealed password into the normalised password, or an *Error.
func (s *Service) open(kid, sealed string) (string, *Error) {
	if sealed == "" {
		return "", invalid("password", "is required")
	}
	raw, err := s.Opener.Open(kid, sealed)
	switch {
	case errors.Is(err, seal.ErrUnknownKey):
		return "", newError(CodeUnknownKey, "The key id names no active sealing key; fetch /api/auth/public-key again.")
	case err != nil:
		return "", wrapError(CodeInvalidSealed, "The password must be sealed with the server's public key (RSA-OAEP-SHA256, base64).", err)
	}
	pw, err := password.Normalize(raw)
	clear(raw)
	if err != nil {
		return "", invalid("password", err.Error())
	}
	return pw, nil
}

// Busy returns the 503 that a request needing password work (login, register,
// password change) would get now, or nil. Callers under a flood check it first,
// so that refusing costs no more than this check.
func (s *Service) Busy() error {
	if s.work.full() {
		return errBusy
	}
	return nil
}

// Register creates an account.
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, error) {
	email := NormalizeEmail(in.Email)
	name := strings.TrimSpace(in.Name)
	var fields []FieldError
	if msg := validateName(name); msg != "" {
		fields = append(fields, FieldError{Field: "name", Message: msg})
	}
	if msg := validateEmail(email); msg != "" {
		fields = append(fields, FieldError{Field: "email", Message: msg})
	}
	release, err := s.work.acquire(ctx)
	if err != nil {
		return User{}, err
	}
	defer release()
	pw, perr := s.open(in.KID, in.Password)
	switch {
	case perr != nil && perr.Code != CodeValidation:
		return User{}, perr
	case perr != nil:
		fields = append(fields, perr.Fields...)
	default:
		if err := password.Validate(pw); err != nil {
			fields = append(fields, FieldError{Field: "password", Message: err.Error()})
		}
	}
	if len(fields) > 0 {
		return User{}, &Error{Code: CodeValidation, Detail: detailValidation, Fields: fields}
	}

	// A cheap look-up first spares a bcrypt hash for a taken email; the unique
	// index still decides races.
	if _, err := s.Store.UserByEmail(ctx, email); err == nil {
		return User{}, errEmailTaken
	} else if !errors.Is(err, ErrNotFound) {
		return User{}, storeError(err)
	}
	hash, err := s.Hasher.Hash(pw)
	if err != nil {
		return User{}, wrapError(CodeInternal, "Internal server error", err)
	}
	u := User{Name: name, Email: email, PasswordHash: hash, CreatedAt: s.Now().UTC().Truncate(time.Second)}
	if err := s.Store.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, ErrEmailTaken) {
			return User{}, errEmailTaken
		}
		return User{}, storeError(err)
	}
	s.Logger.InfoContext(ctx, "user registered", "user_id", u.ID)
	return u, nil
}

var errEmailTaken = newError(CodeEmailTaken, "A user with this email already exists.")

// Login checks an email and sealed password, starts a session and issues its
// token pair. An unknown email and a wrong password give the same error after
// the same work.
func (s *Service) Login(ctx context.Context, in LoginInput, c Client) (Login, error) {
	email := NormalizeEmail(in.Email)
	if msg := validateEmail(email); msg != "" {
		return Login{}, invalid("email", msg)
	}
	// While the account is throttled, answer before any RSA or bcrypt work.
	key := "login:account:" + email
	if err := s.throttle(ctx, key, false); err != nil {
		return Login{}, err
	}
	release, err := s.work.acquire(ctx)
	if err != nil {
		return Login{}, err
	}
	defer release()
	// Counted now, as a failure until it succeeds, so that parallel guesses
	// cannot all pass the check above; a request refused as busy is not counted.
	if err := s.throttle(ctx, key, true); err != nil {
		return Login{}, err
	}
	l, err := s.login(ctx, in, email, c)
	if err == nil && s.Throttle != nil {
		if err := s.Throttle.Reset(ctx, key); err != nil {
			s.Logger.WarnContext(ctx, "login throttle reset failed", "err", err)
		}
	}
	return l, err
}

// throttle returns 429 while the account key is throttled; with count, the
// attempt is counted too.
func (s *Service) throttle(ctx context.Context, key string, count bool) error {
	if s.Throttle == nil {
		return nil
	}
	check := s.Throttle.Check
	if count {
		check = s.Throttle.Attempt
	}
	wait, err := check(ctx, key)
	if err != nil {
		// Only a misconfigured limit errs; failing open keeps logins working.
		s.Logger.WarnContext(ctx, "login throttle failed", "err", err)
		return nil
	}
	if wait > 0 {
		return RateLimited(wait)
	}
	return nil
}

// RateLimited is the error for a request over a limit, to retry after wait.
func RateLimited(wait time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Detail: "Too many requests; try again later.", RetryAfter: wait}
}

func (s *Service) login(ctx context.Context, in LoginInput, email string, c Client) (Login, error) {
	pw, perr := s.open(in.KID, in.Password)
	if perr != nil {
		if s.LegacyPKCS1 && perr.Code == CodeInvalidSealed {
			s.Hasher.Dummy("")
			return Login{}, errInvalidCredentials
		}
		return Login{}, perr
	}
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		s.Hasher.Dummy(pw)
		return Login{}, errInvalidCredentials
	}
	if err != nil {
		return Login{}, storeError(err)
	}
	if err := s.Hasher.Compare(u.PasswordHash, pw); err != nil {
		if !errors.Is(err, password.ErrMismatch) {
			s.Logger.ErrorContext(ctx, "stored password hash unusable", "user_id", u.ID, "err", err)
		}
		return Login{}, errInvalidCredentials
	}
	if s.Hasher.NeedsRehash(u.PasswordHash) {
		s.rehash(ctx, u.ID, pw)
	}
	return s.startSession(ctx, u, c)
}

// rehash upgrades a hash made at a lower cost (for example the tutorial's). The
// login succeeds either way, so a failure is only logged.
func (s *Service) rehash(ctx context.Context, id int64, pw string) {
	hash, err := s.Hasher.Hash(pw)
	if err == nil {
		err = s.Store.SetPasswordHash(ctx, id, hash)
	}
	if err != nil {
		s.Logger.WarnContext(ctx, "password rehash failed", "user_id", id, "err", err)
		return
	}
	s.Logger.InfoContext(ctx, "password hash upgraded", "user_id", id, "cost", s.Hasher.Cost())
}

// Authenticate verifies a bearer token, checks that it was not revoked and that
// its user still exists (an access token can outlive its user's row).
func (s *Service) Authenticate(ctx context.Context, raw string) (*token.Claims, error) {
	c, err := s.Tokens.Verify(raw)
	if err != nil {
		return nil, wrapError(CodeInvalidToken, detailInvalidToken, err)
	}
	if s.revoked.revoked(c.ID, c.SessionID) {
		return nil, errInvalidToken
	}
	if _, err := s.Profile(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Profile returns the user a verified token belongs to, from a cache of at
// most ProfileCacheTTL. A token of a user who no longer exists is invalid.
func (s *Service) Profile(ctx context.Context, c *token.Claims) (User, error) {
	now := s.Now()
	if u, ok := s.users.get(c.UserID, now); ok {
		return u, nil
	}
	u, err := s.Store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, errInvalidToken
	}
	if err != nil {
		return User{}, storeError(err)
	}
	s.users.put(u, now)
	return u, nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.Store.Ping(ctx); err != nil {
		return storeError(err)
	}
	return nil
}
