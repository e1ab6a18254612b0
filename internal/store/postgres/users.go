package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sealauth/sealauth/internal/auth"
)

const userColumns = "id, name, email, password, created_at"

// The lookups of every login and profile request; a test checks that they use
// the unique index on lower(email), the expression compared here, and the
// primary key.
const (
	queryUserByEmail = "SELECT " + userColumns + " FROM users WHERE lower(email) = lower($1)"
	queryUserByID    = "SELECT " + userColumns + " FROM users WHERE id = $1"
)

// CreateUser inserts u and sets u.ID. A duplicate email, in any case, yields
// auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.db.QueryRowContext(ctx,
		"INSERT INTO users (name, email, password, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
		u.Name, u.Email, u.PasswordHash, dbTime(u.CreatedAt)).Scan(&u.ID)
	if uniqueViolation(err, "users_email_lower") {
		return fmt.Errorf("postgres: create user: %w", auth.ErrEmailTaken)
	}
	if err != nil {
		return s.wrap("create user", err)
	}
	return nil
}

// UserByEmail returns the user with that email, compared case-insensitively, or
// auth.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	if !storable(email) {
		return auth.User{}, fmt.Errorf("postgres: user by email: %w", auth.ErrNotFound)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.db.QueryRowContext(ctx, queryUserByEmail, email))
	if err != nil {
		return auth.User{}, s.wrap("user by email", err)
	}
	return u, nil
}

// UserByID returns the user with that ID, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (auth.User, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.db.QueryRowContext(ctx, queryUserByID, id))
	if err != nil {
		return auth.User{}, s.wrap("user by id", err)
	}
	return u, nil
}

// SetPasswordHash replaces the hash of user id, or returns auth.ErrNotFound.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, "UPDATE users SET password = $1 WHERE id = $2", hash, id)
	if err != nil {
		return s.wrap("set password hash", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("set password hash", err)
	}
	if n == 0 {
		return s.wrap("set password hash", sql.ErrNoRows)
	}
	return nil
}

func scanUser(row *sql.Row) (auth.User, error) {
	var u auth.User
	if err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.CreatedAt); err != nil {
		return auth.User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}
