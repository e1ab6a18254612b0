package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

const sessionColumns = "id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at"

type scanner interface{ Scan(dest ...any) error }

func scanSession(row scanner) (auth.Session, error) {
	var s auth.Session
	var revoked sql.NullTime
	if err := row.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &s.UserAgent, &s.IP, &revoked); err != nil {
		return auth.Session{}, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC()
	if revoked.Valid {
		s.RevokedAt = revoked.Time.UTC()
	}
	return s, nil
}

// CreateSession stores sess and its first refresh token in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, refreshHash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			sess.ID, sess.UserID, dbTime(sess.CreatedAt), dbTime(sess.LastUsedAt), dbTime(sess.ExpiresAt),
			text(sess.UserAgent), text(sess.IP)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)",
			refreshHash, sess.ID, dbTime(sess.CreatedAt))
		return err
	})
	if err != nil {
		return s.wrap("create session", err)
	}
	return nil
}

// RotateRefreshToken spends oldHash and stores newHash, atomically: the UPDATE
// that spends the token locks its row, so of concurrent rotations one spends it;
// the others wait for its commit, re-check used_at and update nothing.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time) (auth.Session, time.Time, error) {
	if !storable(oldHash) {
		return auth.Session{}, time.Time{}, fmt.Errorf("postgres: rotate refresh token: %w", auth.ErrNotFound)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var sess auth.Session
	var spentAt time.Time
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL", dbTime(now), oldHash)
		if err != nil {
			return err
		}
		won, err := res.RowsAffected()
		if err != nil {
			return err
		}
		// READ COMMITTED: this statement sees the winner's commit.
		var sid string
		var used sql.NullTime
		if err := tx.QueryRowContext(ctx, "SELECT session_id, used_at FROM refresh_tokens WHERE hash = $1", oldHash).Scan(&sid, &used); err != nil {
			return err
		}
		if sess, err = scanSession(tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = $1", sid)); err != nil {
			return err
		}
		if won == 0 {
			spentAt = used.Time.UTC()
			return auth.ErrTokenSpent
		}
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET last_used_at = $1 WHERE id = $2", dbTime(now), sid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)", newHash, sid, dbTime(now))
		return err
	})
	switch {
	case errors.Is(err, auth.ErrTokenSpent):
		return sess, spentAt, fmt.Errorf("postgres: rotate refresh token: %w", auth.ErrTokenSpent)
	case err != nil:
		return auth.Session{}, time.Time{}, s.wrap("rotate refresh token", err)
	}
	return sess, time.Time{}, nil
}

// SessionByID returns the session id, revoked or not.
func (s *Store) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	if !storable(id) {
		return auth.Session{}, fmt.Errorf("postgres: session by id: %w", auth.ErrNotFound)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess, err := scanSession(s.db.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = $1", id))
	if err != nil {
		return auth.Session{}, s.wrap("session by id", err)
	}
	return sess, nil
}

// Sessions lists the user's live sessions, newest first.
func (s *Store) Sessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx,
		"SELECT "+sessionColumns+` FROM sessions
		 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		 ORDER BY created_at DESC, id`, userID, dbTime(now))
	if err != nil {
		return nil, s.wrap("sessions", err)
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, s.wrap("sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("sessions", err)
	}
	return out, nil
}

// RevokeSession revokes one live session of the user.
func (s *Store) RevokeSession(ctx context.Context, userID int64, id string, now time.Time) error {
	if !storable(id) {
		return fmt.Errorf("postgres: revoke session: %w", auth.ErrNotFound)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
		dbTime(now), id, userID)
	if err != nil {
		return s.wrap("revoke session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("revoke session", err)
	} else if n == 0 {
		return fmt.Errorf("postgres: revoke session: %w", auth.ErrNotFound)
	}
	return nil
}

// RevokeUserSessions revokes every live session of the user but except.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, now time.Time) ([]string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx,
		"UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3 RETURNING id",
		dbTime(now), userID, text(except))
	if err != nil {
		return nil, s.wrap("revoke user sessions", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.wrap("revoke user sessions", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("revoke user sessions", err)
	}
	return ids, nil
}

// PurgeSessions deletes expired sessions; their refresh tokens go with them.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < $1", dbTime(now)); err != nil {
		return s.wrap("purge sessions", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil. A failed
// rollback is not reported: the server rolls back when the connection goes.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
