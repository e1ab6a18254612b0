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

// Revocation records that the access token with ID JTI is no longer valid.
// It only has to be remembered until ExpiresAt, when the token dies anyway.
type Revocation struct {
	JTI       string
	ExpiresAt time.Time // UTC
	RevokedAt time.Time // UTC
}

// Errors every Store returns, wrapped or bare, so that callers can use errors.Is.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrEmailTaken: a user with that email already exists.
	ErrEmailTaken = errors.New("email already registered")
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

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}
