package auth

import (
	"context"
	"errors"
	"time"
)

// User is an account. PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$).
type User struct {
	ID           int64
	Name         string
	Email        string // normalised: trimmed and lower-case
	PasswordHash string
	CreatedAt    time.Time // UTC
}

// Revocation records that the access tokens named by JTI are no longer valid:
// one token (its jti), or every token of a session ("sid:" and the session id).
// It only has to be remembered until ExpiresAt, when those tokens die anyway.
type Revocation struct {
	JTI       string
	ExpiresAt time.Time // UTC
	RevokedAt time.Time // UTC
}

// Session is one login on one device: the family of refresh tokens that rotate
// from it, and the access tokens issued from them (their "sid" claim).
type Session struct {
	ID         string
	UserID     int64
	CreatedAt  time.Time // UTC
	LastUsedAt time.Time // UTC; the idle timeout counts from here
	ExpiresAt  time.Time // UTC; the end of the absolute lifetime
	UserAgent  string
	IP         string
	RevokedAt  time.Time // UTC; zero while the session lives
}

// KeyKind says what a stored key is for.
type KeyKind string

// The key kinds: the RSA key that opens sealed passwords, the key that signs
// access tokens.
const (
	KeySealing KeyKind = "sealing"
	KeySigning KeyKind = "signing"
)

// KeyRecord is a key as stored. The private half is never stored in clear:
// PrivateEnc is its PKCS#8 encoding encrypted under the key-encryption key.
type KeyRecord struct {
	ID         string // the kid: RFC 7638 thumbprint of the public key
	Kind       KeyKind
	Alg        string // RSA-OAEP-256 for sealing keys; the JWS alg for signing keys
	PrivateEnc []byte
	CreatedAt  time.Time // UTC; the newest live key of a kind is the current one
	RetiredAt  time.Time // UTC; zero until an operator retires the key
}

// Errors every Store returns, wrapped or bare, so that callers can use errors.Is.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrEmailTaken: a user with that email already exists.
	ErrEmailTaken = errors.New("email already registered")
	// ErrKeyExists: a key with that ID is stored already.
	ErrKeyExists = errors.New("key already stored")
	// ErrTokenSpent: the refresh token was used before (rotation spends it).
	ErrTokenSpent = errors.New("refresh token already used")
	// ErrUnavailable: the database cannot be reached or did not answer in time.
	// Backends wrap driver errors of that kind with it, so the API can answer 503.
	ErrUnavailable = errors.New("store unavailable")
)

// Store is the persistence contract of the service. Every backend (SQLite, MySQL,
// PostgreSQL) implements it and passes authtest.TestStore.
//
// Emails reach the store already normalised (trimmed, lower-case); as a second line of
// defence the store still treats them case-insensitively for uniqueness and lookup.
// Times are stored and returned in UTC, with at least second precision.
type Store interface {
	// CreateUser inserts u (the caller sets CreatedAt) and sets u.ID.
	// A duplicate email yields ErrEmailTaken.
	CreateUser(ctx context.Context, u *User) error
	// UserByEmail and UserByID return ErrNotFound when there is no such user.
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	// SetPasswordHash replaces a user's hash; ErrNotFound if the user is gone.
	SetPasswordHash(ctx context.Context, id int64, hash string) error

	// RevokeToken records a revocation; revoking the same JTI twice is not an error.
	RevokeToken(ctx context.Context, r Revocation) error
	// RevocationsSince lists revocations with RevokedAt >= since and ExpiresAt > now,
	// so that every instance can keep its in-memory set current.
	RevocationsSince(ctx context.Context, since, now time.Time) ([]Revocation, error)
	// PurgeRevocations deletes revocations that expired before now.
	PurgeRevocations(ctx context.Context, now time.Time) error

	// CreateSession stores a session with its first refresh token, of which only
	// a hash is ever stored.
	CreateSession(ctx context.Context, s Session, refreshHash string) error
	// RotateRefreshToken spends the refresh token whose hash is oldHash and
	// stores newHash for the same session, whose LastUsedAt becomes now. It is
	// atomic: of concurrent calls with one oldHash exactly one succeeds. It
	// returns the session as it was before the call. For a token that was
	// spent before it returns the session, the time it was spent and
	// ErrTokenSpent; for an unknown token, ErrNotFound. It does not judge
	// whether the session may still be used: the caller does.
	RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time) (Session, time.Time, error)
	// SessionByID returns a session, revoked or not, or ErrNotFound.
	SessionByID(ctx context.Context, id string) (Session, error)
	// Sessions lists a user's sessions that are not revoked and whose ExpiresAt
	// is after now, newest first.
	Sessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// RevokeSession revokes the user's session id at now. ErrNotFound if the
	// user has no such session or it is revoked already.
	RevokeSession(ctx context.Context, userID int64, id string, now time.Time) error
	// RevokeUserSessions revokes at now every live session of the user except
	// the one with id except ("" spares none), and returns the ids it revoked.
	RevokeUserSessions(ctx context.Context, userID int64, except string, now time.Time) ([]string, error)
	// PurgeSessions deletes sessions (and their refresh tokens) whose
	// ExpiresAt is before now.
	PurgeSessions(ctx context.Context, now time.Time) error

	// AddKey stores a key; a duplicate ID yields ErrKeyExists.
	AddKey(ctx context.Context, k KeyRecord) error
	// Keys lists every stored key, retired ones included, oldest first.
	Keys(ctx context.Context) ([]KeyRecord, error)
	// RetireKey marks a key retired at the given time; ErrNotFound if there is
	// no such key or it is retired already.
	RetireKey(ctx context.Context, id string, at time.Time) error

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}
