package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

const sessionColumns = "id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at"

func scanSession(row scanner) (auth.Session, error) {
	var s auth.Session
	if err := row.Scan(&s.ID, &s.UserID, scanTime(&s.CreatedAt), scanTime(&s.LastUsedAt), scanTime(&s.ExpiresAt),
		&s.UserAgent, &s.IP, scanNullTime(&s.RevokedAt)); err != nil {
		return auth.Session{}, err
	}
	return s, nil
}

func scanID(row scanner) (string, error) {
	var id string
	err := row.Scan(&id)
	return id, err
}

// CreateSession stores sess and its first refresh token in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, refreshHash string) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(
			`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`),
			sess.ID, sess.UserID, s.dbTime(sess.CreatedAt), s.dbTime(sess.LastUsedAt), s.dbTime(sess.ExpiresAt),
			s.text(sess.UserAgent), s.text(sess.IP)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)"),
			refreshHash, sess.ID, s.dbTime(sess.CreatedAt))
		return err
	})
	if err != nil {
		return s.Wrap("create session", err)
	}
	return nil
}

// RotateRefreshToken spends oldHash and stores newHash, atomically: the UPDATE
// that spends the token takes its row's lock, so of concurrent rotations one
// spends it and the others, once it commits, update nothing and read it spent.
// SQLite runs the write transactions (BEGIN IMMEDIATE) one at a time.
// PostgreSQL re-checks used_at after the wait, and under READ COMMITTED each
// later statement sees the winner's commit. MySQL's SELECTs must lock
// (Dialect.ForUpdate): a consistent read could see a snapshot from before the
// winner's commit.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time) (auth.Session, time.Time, error) {
	if !s.storable(oldHash) {
		return auth.Session{}, time.Time{}, s.notFound("rotate refresh token")
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var sess auth.Session
	var spentAt time.Time
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL"), s.dbTime(now), oldHash)
		if err != nil {
			return err
		}
		won, err := res.RowsAffected()
		if err != nil {
			return err
		}
		var sid string
		var used time.Time
		if err := tx.QueryRowContext(ctx, s.q("SELECT session_id, used_at FROM refresh_tokens WHERE hash = ?"+s.d.ForUpdate), oldHash).
			Scan(&sid, scanNullTime(&used)); err != nil {
			return err
		}
		if sess, err = scanSession(tx.QueryRowContext(ctx, s.q("SELECT "+sessionColumns+" FROM sessions WHERE id = ?"+s.d.ForUpdate), sid)); err != nil {
			return err
		}
		if won == 0 {
			spentAt = used
			return auth.ErrTokenSpent
		}
		// On MySQL the session row is locked already, so the new token's
		// foreign-key check takes no lock that could deadlock with another
		// transaction.
		if _, err := tx.ExecContext(ctx, s.q("UPDATE sessions SET last_used_at = ? WHERE id = ?"), s.dbTime(now), sid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)"), newHash, sid, s.dbTime(now))
		return err
	})
	switch {
	case errors.Is(err, auth.ErrTokenSpent):
		return sess, spentAt, fmt.Errorf("%s: rotate refresh token: %w", s.d.Name, auth.ErrTokenSpent)
	case err != nil:
		return auth.Session{}, time.Time{}, s.Wrap("rotate refresh token", err)
	}
	return sess, time.Time{}, nil
}

// SessionByID returns the session id, revoked or not.
func (s *Store) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	if !s.storable(id) {
		return auth.Session{}, s.notFound("session by id")
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess, err := scanSession(s.r.QueryRowContext(ctx, s.q("SELECT "+sessionColumns+" FROM sessions WHERE id = ?"), id))
	if err != nil {
		return auth.Session{}, s.Wrap("session by id", err)
	}
	return sess, nil
}

// Sessions lists the user's live sessions, newest first.
func (s *Store) Sessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := collect(ctx, s.r, scanSession, s.q(
		"SELECT "+sessionColumns+` FROM sessions
		 WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		 ORDER BY created_at DESC, id`), userID, s.dbTime(now))
	if err != nil {
		return nil, s.Wrap("sessions", err)
	}
	return out, nil
}

// RevokeSession revokes one live session of the user.
func (s *Store) RevokeSession(ctx context.Context, userID int64, id string, now time.Time) error {
	if !s.storable(id) {
		return s.notFound("revoke session")
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, s.q("UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL"),
		s.dbTime(now), id, userID)
	if err != nil {
		return s.Wrap("revoke session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.Wrap("revoke session", err)
	} else if n == 0 {
		return s.notFound("revoke session")
	}
	return nil
}

// RevokeUserSessions revokes every live session of the user but except, in one
// UPDATE … RETURNING where the engine has it. MySQL has not: there the SELECT …
// FOR UPDATE locks the rows (and, under REPEATABLE READ, the gaps beside them),
// so that the UPDATE revokes exactly those.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, now time.Time) ([]string, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	except = s.storableID(except)
	const revoke = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ?"
	var ids []string
	var err error
	if s.d.Returning {
		ids, err = collect(ctx, s.w, scanID, s.q(revoke+" RETURNING id"), s.dbTime(now), userID, except)
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			ids, err = collect(ctx, tx, scanID, s.q("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id <> ?"+s.d.ForUpdate),
				userID, except)
			if err != nil || len(ids) == 0 {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(revoke), s.dbTime(now), userID, except)
			return err
		})
	}
	if err != nil {
		return nil, s.Wrap("revoke user sessions", err)
	}
	return ids, nil
}

// PurgeSessions deletes expired sessions; their refresh tokens go with them.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.w.ExecContext(ctx, s.q("DELETE FROM sessions WHERE expires_at < ?"), s.dbTime(now)); err != nil {
		return s.Wrap("purge sessions", err)
	}
	return nil
}
