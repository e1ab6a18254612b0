package mysql

import (
	"context"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// RevokeToken records r. Revoking a JTI again keeps the first record and is not an
// error.
func (s *Store) RevokeToken(ctx context.Context, r auth.Revocation) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// Not INSERT IGNORE, which would also turn other errors into warnings.
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)
		 ON DUPLICATE KEY UPDATE jti = jti`,
		r.JTI, dbTime(r.ExpiresAt), dbTime(r.RevokedAt))
	if err != nil {
		return s.wrap("revoke token", err)
	}
	return nil
}

// RevocationsSince lists the revocations with RevokedAt >= since that have not
// expired at now, oldest first.
func (s *Store) RevocationsSince(ctx context.Context, since, now time.Time) ([]auth.Revocation, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx,
		`SELECT jti, expires_at, revoked_at FROM revoked_tokens
		 WHERE revoked_at >= ? AND expires_at > ?
		 ORDER BY revoked_at, jti`,
		dbTime(since), dbTime(now))
	if err != nil {
		return nil, s.wrap("revocations since", err)
	}
	defer rows.Close()
	var out []auth.Revocation
	for rows.Next() {
		var r auth.Revocation
		if err := rows.Scan(&r.JTI, &r.ExpiresAt, &r.RevokedAt); err != nil {
			return nil, s.wrap("revocations since", err)
		}
		r.ExpiresAt, r.RevokedAt = r.ExpiresAt.UTC(), r.RevokedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("revocations since", err)
	}
	return out, nil
}

// PurgeRevocations deletes the revocations that expired before now.
func (s *Store) PurgeRevocations(ctx context.Context, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, "DELETE FROM revoked_tokens WHERE expires_at < ?", dbTime(now)); err != nil {
		return s.wrap("purge revocations", err)
	}
	return nil
}
