package sqlite

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
	var created, used, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&s.ID, &s.UserID, &created, &used, &expires, &s.UserAgent, &s.IP, &revoked); err != nil {
		return auth.Session{}, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromMicros(created), fromMicros(used), fromMicros(expires)
	if revoked.Valid {
		s.RevokedAt = fromMicros(revoked.Int64)
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
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, micros(sess.CreatedAt), micros(sess.LastUsedAt), micros(sess.ExpiresAt), sess.UserAgent, sess.IP); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)",
			refreshHash, sess.ID, micros(sess.CreatedAt))
		return err
	})
	if err != nil {
		return s.wrap("create session", err)
	}
	return nil
}

// RotateRefreshToken spends oldHash and stores newHash, atomically: the write
// transaction (BEGIN IMMEDIATE) serialises concurrent rotations.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time) (auth.Session, time.Time, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var sess auth.Session
	var spentAt time.Time
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var sid string
		var used sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT session_id, used_at FROM refresh_tokens WHERE hash = ?", oldHash).Scan(&sid, &used); err != nil {
			return err
		}
		var err error
		if sess, err = scanSession(tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", sid)); err != nil {
			return err
		}
		if used.Valid {
			spentAt = fromMicros(used.Int64)
			return auth.ErrTokenSpent
		}
		if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", micros(now), oldHash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)", newHash, sid, micros(now)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE sessions SET last_used_at = ? WHERE id = ?", micros(now), sid)
		return err
	})
	switch {
	case errors.Is(err, auth.ErrTokenSpent):
		return sess, spentAt, fmt.Errorf("sqlite: rotate refresh token: %w", auth.ErrTokenSpent)
	case err != nil:
		return auth.Session{}, time.Time{}, s.wrap("rotate refresh token", err)
	}
	return sess, time.Time{}, nil
}

// SessionByID returns the session id, revoked or not.
func (s *Store) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess, err := scanSession(s.r.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id))
	if err != nil {
		return auth.Session{}, s.wrap("session by id", err)
	}
	return sess, nil
}

// Sessions lists the user's live sessions, newest first.
func (s *Store) Sessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx,
		"SELECT "+sessionColumns+` FROM sessions
		 WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		 ORDER BY created_at DESC, id`, userID, micros(now))
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
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
		micros(now), id, userID)
	if err != nil {
		return s.wrap("revoke session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("revoke session", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: revoke session: %w", auth.ErrNotFound)
	}
	return nil
}

// RevokeUserSessions revokes every live session of the user but except.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, now time.Time) ([]string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var ids []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			"UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ? RETURNING id",
			micros(now), userID, except)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap("revoke user sessions", err)
	}
	return ids, nil
}

// PurgeSessions deletes expired sessions; their refresh tokens go with them.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", micros(now)); err != nil {
		return s.wrap("purge sessions", err)
	}
	return nil
}

// inTx runs fn in a write transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
