package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// AddKey stores k; a duplicate ID yields auth.ErrKeyExists.
func (s *Store) AddKey(ctx context.Context, k auth.KeyRecord) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, "INSERT INTO `keys` (id, kind, alg, private_enc, created_at) VALUES (?, ?, ?, ?, ?)",
		k.ID, string(k.Kind), k.Alg, k.PrivateEnc, dbTime(k.CreatedAt))
	if isDuplicate(err) {
		return fmt.Errorf("mysql: add key: %w", auth.ErrKeyExists)
	}
	if err != nil {
		return s.wrap("add key", err)
	}
	return nil
}

// Keys lists every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]auth.KeyRecord, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT id, kind, alg, private_enc, created_at, retired_at FROM `keys` ORDER BY created_at, id")
	if err != nil {
		return nil, s.wrap("keys", err)
	}
	defer rows.Close()
	var out []auth.KeyRecord
	for rows.Next() {
		var k auth.KeyRecord
		var kind string
		var retired sql.NullTime
		if err := rows.Scan(&k.ID, &kind, &k.Alg, &k.PrivateEnc, &k.CreatedAt, &retired); err != nil {
			return nil, s.wrap("keys", err)
		}
		k.Kind, k.CreatedAt = auth.KeyKind(kind), k.CreatedAt.UTC()
		if retired.Valid {
			k.RetiredAt = retired.Time.UTC()
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("keys", err)
	}
	return out, nil
}

// RetireKey marks a live key retired.
func (s *Store) RetireKey(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, "UPDATE `keys` SET retired_at = ? WHERE id = ? AND retired_at IS NULL", dbTime(at), id)
	if err != nil {
		return s.wrap("retire key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("retire key", err)
	} else if n == 0 {
		return fmt.Errorf("mysql: retire key: %w", auth.ErrNotFound)
	}
	return nil
}
