package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/keyring"
	"github.com/sealauth/sealauth/internal/token"
)

// app is what serve and the key commands share: the migrated store and the
// key ring on it.
type app struct {
	store store
	ring  *keyring.Ring
}

// openApp opens and migrates the store, then loads the keys (seeding them from
// the key files, or generating them, where the store has none).
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil { // #nosec G703 -- the operator's own configured path
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := prepareSchema(ctx, st, !cfg.SkipMigrations); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("migrate %s: %w", config.RedactURL(cfg.DatabaseURL), err)
	}
	kek, created, err := keyring.LoadKEK(cfg.MasterKey, filepath.Join(cfg.DataDir, keyring.MasterKeyFile))
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		logger.Info("generated master key", "file", filepath.Join(cfg.DataDir, keyring.MasterKeyFile))
	}
	ring, err := keyring.New(ctx, st, keyring.Config{
		KEK:               kek,
		SigningAlg:        cfg.JWTAlg,
		Secret:            []byte(cfg.JWTSecret),
		Token:             token.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.JWTExpires},
		SealingOverlap:    cfg.SealingOverlap,
		SigningActivation: cfg.SigningActivation,
		LegacyPKCS1:       cfg.LegacyPKCS1,
		Logger:            logger,
	}, keyring.Files{Sealing: cfg.SealingKeyFile, Signing: cfg.SigningKeyFile})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &app{store: st, ring: ring}, nil
}
