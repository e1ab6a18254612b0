package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sealauth/sealauth/internal/auth"
)

const userColumns = "id, name, email, password, created_at"

// CreateUser inserts u and sets u.ID. A duplicate email, in any case, yields
// auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx,
		"INSERT INTO users (name, email, password, created_at) VALUES (?, ?, ?, ?)",
		u.Name, u.Email, u.PasswordHash, micros(u.CreatedAt))
	if isUnique(err) {
		// users.id is never supplied, so the only unique column that can clash is email.
		return fmt.Errorf("sqlite: create user: %w", auth.ErrEmailTaken)
	}
	if err != nil {
		return s.wrap("create user", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return s.wrap("create user", err)
	}
	u.ID = id
	return nil
}

// UserByEmail returns the user with that email, compared case-insensitively, or
// auth.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", email))
	if err != nil {
		return auth.User{}, s.wrap("user by email", err)
	}
	return u, nil
}

// UserByID returns the user with that ID, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (auth.User, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return auth.User{}, s.wrap("user by id", err)
	}
	return u, nil
}

// SetPasswordHash replaces the hash of user id, or returns auth.ErrNotFound.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, "UPDATE users SET password = ? WHERE id = ?", hash, id)
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
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &created); err != nil {
		return auth.User{}, err
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}
