package sqlstore

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
	_, err := s.w.ExecContext(ctx, s.q("INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?) "+s.d.OnDuplicateJTI),
		s.storableID(r.JTI), s.dbTime(r.ExpiresAt), s.dbTime(r.RevokedAt))
	if err != nil {
		return s.Wrap("revoke token", err)
	}
	return nil
}

// RevocationsSince lists the revocations with RevokedAt >= since that have not
// expired at now, oldest first.
func (s *Store) RevocationsSince(ctx context.Context, since, now time.Time) ([]auth.Revocation, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := collect(ctx, s.r, scanRevocation, s.q(
		`SELECT jti, expires_at, revoked_at FROM revoked_tokens
		 WHERE revoked_at >= ? AND expires_at > ?
		 ORDER BY revoked_at, jti`),
		s.dbTime(since), s.dbTime(now))
	if err != nil {
		return nil, s.Wrap("revocations since", err)
	}
	return out, nil
}

func scanRevocation(row scanner) (auth.Revocation, error) {
	var r auth.Revocation
	if err := row.Scan(&r.JTI, scanTime(&r.ExpiresAt), scanTime(&r.RevokedAt)); err != nil {
		return auth.Revocation{}, err
	}
	return r, nil
}

// PurgeRevocations deletes the revocations that expired before now.
func (s *Store) PurgeRevocations(ctx context.Context, now time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.w.ExecContext(ctx, s.q("DELETE FROM revoked_tokens WHERE expires_at < ?"), s.dbTime(now)); err != nil {
		return s.Wrap("purge revocations", err)
	}
	return nil
}
