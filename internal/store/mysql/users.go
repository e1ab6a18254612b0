package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sealauth/sealauth/internal/auth"
)

// userColumns reads the tutorial's NULL-able columns as "" (and the zero time, in
// scanUser): only rows the tutorial wrote can hold NULLs.
const userColumns = "id, COALESCE(name, ''), COALESCE(email, ''), COALESCE(password, ''), created_at"

// The lookups of every login and profile request; a test checks that they use
// the unique key on email and the primary key.
const (
	queryUserByEmail = "SELECT " + userColumns + " FROM users WHERE email = ? AND CAST(LOWER(email) AS BINARY) = CAST(LOWER(?) AS BINARY)"
	queryUserByID    = "SELECT " + userColumns + " FROM users WHERE id = ?"
)

// CreateUser inserts u and sets u.ID. A duplicate email, in any case, yields
// auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx,
		"INSERT INTO users (name, email, password, created_at) VALUES (?, ?, ?, ?)",
		u.Name, u.Email, u.PasswordHash, dbTime(u.CreatedAt))
	if isDuplicate(err) {
		// users.id is never supplied, so the only unique key that can clash is email's.
		return fmt.Errorf("mysql: create user: %w", auth.ErrEmailTaken)
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
//
// The column's collation finds the row through the unique key, but it also
// ignores accents, trailing spaces and some characters (NUL among them), so the
// lower-cased bytes must match too.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.db.QueryRowContext(ctx, queryUserByEmail, email, email))
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
	// The connection counts matched rows (clientFoundRows), so an unchanged hash
	// still counts one.
	res, err := s.db.ExecContext(ctx, "UPDATE users SET password = ? WHERE id = ?", hash, id)
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
	var created sql.NullTime
	if err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &created); err != nil {
		return auth.User{}, err
	}
	if created.Valid {
		u.CreatedAt = created.Time.UTC()
	}
	return u, nil
}
