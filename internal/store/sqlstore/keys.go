package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// AddKey stores k; a duplicate ID yields auth.ErrKeyExists.
func (s *Store) AddKey(ctx context.Context, k auth.KeyRecord) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, s.q("INSERT INTO "+s.d.KeysTable+" (id, kind, alg, private_enc, created_at) VALUES (?, ?, ?, ?, ?)"),
		k.ID, string(k.Kind), k.Alg, k.PrivateEnc, s.dbTime(k.CreatedAt))
	if s.d.KeyExists(err) {
		return fmt.Errorf("%s: add key: %w", s.d.Name, auth.ErrKeyExists)
	}
	if err != nil {
		return s.Wrap("add key", err)
	}
	return nil
}

// Keys lists every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]auth.KeyRecord, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := collect(ctx, s.r, scanKey, "SELECT id, kind, alg, private_enc, created_at, retired_at FROM "+s.d.KeysTable+" ORDER BY created_at, id")
	if err != nil {
		return nil, s.Wrap("keys", err)
	}
	return out, nil
}

func scanKey(row scanner) (auth.KeyRecord, error) {
	var k auth.KeyRecord
	var kind string
	if err := row.Scan(&k.ID, &kind, &k.Alg, &k.PrivateEnc, scanTime(&k.CreatedAt), scanNullTime(&k.RetiredAt)); err != nil {
		return auth.KeyRecord{}, err
	}
	k.Kind = auth.KeyKind(kind)
	return k, nil
}

// RetireKey marks a live key retired.
func (s *Store) RetireKey(ctx context.Context, id string, at time.Time) error {
	if !s.storable(id) {
		return s.notFound("retire key")
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, s.q("UPDATE "+s.d.KeysTable+" SET retired_at = ? WHERE id = ? AND retired_at IS NULL"), s.dbTime(at), id)
	if err != nil {
		return s.Wrap("retire key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.Wrap("retire key", err)
	} else if n == 0 {
		return s.notFound("retire key")
	}
	return nil
}
