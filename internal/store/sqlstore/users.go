package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sealauth/sealauth/internal/auth"
)

// CreateUser inserts u and sets u.ID. A duplicate email, in any case, yields
// auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	const insert = "INSERT INTO users (name, email, password, created_at) VALUES (?, ?, ?, ?)"
	args := []any{u.Name, u.Email, u.PasswordHash, s.dbTime(u.CreatedAt)}
	var id int64
	var err error
	if s.d.Returning {
		err = s.w.QueryRowContext(ctx, s.q(insert+" RETURNING id"), args...).Scan(&id)
	} else {
		var res sql.Result
		if res, err = s.w.ExecContext(ctx, s.q(insert), args...); err == nil {
			id, err = res.LastInsertId()
		}
	}
	if s.d.EmailTaken(err) {
		return fmt.Errorf("%s: create user: %w", s.d.Name, auth.ErrEmailTaken)
	}
	if err != nil {
		return s.Wrap("create user", err)
	}
	u.ID = id
	return nil
}

// UserByEmail returns the user with that email, compared case-insensitively, or
// auth.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	if !s.storable(email) {
		return auth.User{}, s.notFound("user by email")
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	query, args := s.d.UserByEmail(email)
	u, err := scanUser(s.r.QueryRowContext(ctx, query, args...))
	if err != nil {
		return auth.User{}, s.Wrap("user by email", err)
	}
	return u, nil
}

// UserByID returns the user with that ID, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (auth.User, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	u, err := scanUser(s.r.QueryRowContext(ctx, s.d.UserByID, id))
	if err != nil {
		return auth.User{}, s.Wrap("user by id", err)
	}
	return u, nil
}

// SetPasswordHash replaces the hash of user id, or returns auth.ErrNotFound.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, s.q("UPDATE users SET password = ? WHERE id = ?"), hash, id)
	if err != nil {
		return s.Wrap("set password hash", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.Wrap("set password hash", err)
	} else if n == 0 {
		return s.notFound("set password hash")
	}
	return nil
}

// scanUser reads a NULL created_at, which only a row of the MySQL tutorial's
// table can hold, as the zero time.
func scanUser(row scanner) (auth.User, error) {
	var u auth.User
	if err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, scanNullTime(&u.CreatedAt)); err != nil {
		return auth.User{}, err
	}
	return u, nil
}
