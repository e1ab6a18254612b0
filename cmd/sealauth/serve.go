package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/httpapi"
	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/token"
)

// serve runs the server until ctx ends (SIGINT or SIGTERM), then drains it.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil { // #nosec G703 -- the operator's own configured path
		return fmt.Errorf("data dir: %w", err)
	}
	ks, err := loadKeys(cfg, logger)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", config.RedactURL(cfg.DatabaseURL), err)
	}
	hasher, err := password.NewHasher(cfg.BcryptCost)
	if err != nil {
		return err
	}
	issuer, err := token.NewIssuer(token.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.JWTExpires}, ks.signing)
	if err != nil {
		return err
	}
	svc := auth.NewService(auth.Deps{
		Store:       st,
		Opener:      seal.NewOpener([]seal.Key{ks.sealing}, cfg.LegacyPKCS1),
		Hasher:      hasher,
		Tokens:      issuer,
		Logger:      logger,
		LegacyPKCS1: cfg.LegacyPKCS1,
		IdleTimeout: cfg.SessionIdleTimeout,
		MaxLifetime: cfg.SessionMaxLifetime,
		ReuseGrace:  cfg.RefreshReuseGrace,
	})
	synced, err := svc.LoadRevocations(ctx)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           httpapi.NewServer(logger, svc, ks),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go svc.Run(runCtx, synced)

	logger.Info("starting", "config", cfg)
	fmt.Fprintf(stdout, "sealauth listening on http://%s (sealing key %s, signing key %s %s; keys in %s)\n",
		ln.Addr(), ks.sealing.ID, ks.signing.Alg, ks.signing.ID, ks.dir)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
