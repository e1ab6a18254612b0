package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// text makes s storable in a utf8mb4 column: a User-Agent header may carry bytes
// that are not UTF-8, which strict mode would refuse with an error.
func text(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// CreateSession stores sess and its first refresh token in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, refreshHash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, dbTime(sess.CreatedAt), dbTime(sess.LastUsedAt), dbTime(sess.ExpiresAt),
			text(sess.UserAgent), text(sess.IP)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)",
			refreshHash, sess.ID, dbTime(sess.CreatedAt))
		return err
	})
	if err != nil {
		return s.wrap("create session", err)
	}
	return nil
}

// RotateRefreshToken spends oldHash and stores newHash, atomically: the UPDATE
// that spends the token locks its row, so of concurrent rotations one spends it
// and the others, once it commits, find it spent.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time) (auth.Session, time.Time, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var sess auth.Session
	var spentAt time.Time
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL", dbTime(now), oldHash)
		if err != nil {
			return err
		}
		won, err := res.RowsAffected()
		if err != nil {
			return err
		}
		// A locking read: a consistent read could see a snapshot from before the
		// winner's commit.
		var sid string
		var used sql.NullTime
		if err := tx.QueryRowContext(ctx, "SELECT session_id, used_at FROM refresh_tokens WHERE hash = ? FOR UPDATE", oldHash).Scan(&sid, &used); err != nil {
			return err
		}
		if sess, err = scanSession(tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ? FOR UPDATE", sid)); err != nil {
			return err
		}
		if won == 0 {
			spentAt = used.Time.UTC()
			return auth.ErrTokenSpent
		}
		// The session row is locked already, so the new token's foreign-key check
		// takes no lock that could deadlock with another transaction.
		if _, err := tx.ExecContext(ctx, "UPDATE sessions SET last_used_at = ? WHERE id = ?", dbTime(now), sid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)", newHash, sid, dbTime(now))
		return err
	})
	switch {
	case errors.Is(err, auth.ErrTokenSpent):
		return sess, spentAt, fmt.Errorf("mysql: rotate refresh token: %w", auth.ErrTokenSpent)
	case err != nil:
		return auth.Session{}, time.Time{}, s.wrap("rotate refresh token", err)
	}
	return sess, time.Time{}, nil
}

// SessionByID returns the session id, revoked or not.
func (s *Store) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess, err := scanSession(s.db.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id))
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
		 WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
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
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
		dbTime(now), id, userID)
	if err != nil {
		return s.wrap("revoke session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("revoke session", err)
	} else if n == 0 {
		return fmt.Errorf("mysql: revoke session: %w", auth.ErrNotFound)
	}
	return nil
}

// RevokeUserSessions revokes every live session of the user but except. MySQL
// has no UPDATE … RETURNING: the SELECT … FOR UPDATE locks the rows (and, under
// REPEATABLE READ, the gaps beside them), so the UPDATE revokes exactly those.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, now time.Time) ([]string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	const live = " FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id <> ?"
	var ids []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id"+live+" FOR UPDATE", userID, except)
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
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
			dbTime(now), userID, except)
		return err
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
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", dbTime(now)); err != nil {
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
