package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/clientip"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/httpapi"
	"github.com/sealauth/sealauth/internal/keyring"
	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/ratelimit"
	"github.com/sealauth/sealauth/internal/tlsconf"
)

// serve runs the server until ctx ends (SIGINT or SIGTERM), then drains it.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var devTLS bool
	cfg, err := config.Load("serve", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&devTLS, "dev-tls", false, "serve HTTPS with a self-signed certificate for localhost, made in the data dir (for local development)")
	})
	if err != nil {
		return err
	}
	if len(cfg.Args) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", cfg.Args[0])
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.store.Close()
	hasher, err := password.NewHasher(cfg.BcryptCost)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	limits, closeRedis, err := openLimits(cfg, logger, reg)
	if err != nil {
		return err
	}
	defer closeRedis()
	svc := auth.NewService(auth.Deps{
		Store:       a.store,
		Opener:      a.ring,
		Hasher:      hasher,
		Tokens:      a.ring,
		Logger:      logger,
		LegacyPKCS1: cfg.LegacyPKCS1,
		IdleTimeout: cfg.SessionIdleTimeout,
		MaxLifetime: cfg.SessionMaxLifetime,
		ReuseGrace:  cfg.RefreshReuseGrace,
		Throttle:    limits.Failures,
	})
	synced, err := svc.LoadRevocations(ctx)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}

	handler := httpapi.NewServer(logger, svc, a.ring, httpapi.Options{
		CORSOrigins: cfg.CORSOrigins,
		ClientIP:    clientip.NewResolver(cfg.TrustedProxies),
		Limiter:     limits.Limiter,
		RateLimits:  cfg.RateLimits,
		Metrics:     promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	})
	tlsConfig, err := loadTLS(cfg, devTLS, logger)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme, handler = "https", tlsconf.WithHSTS(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go svc.Run(runCtx, synced)
	go a.ring.Run(runCtx)

	logger.Info("starting", "config", cfg)
	sealingID, signingID := a.ring.Current()
	fmt.Fprintf(stdout, "sealauth listening on %s://%s (sealing key %s, signing key %s %s; keys in the store %s, encrypted with %s)\n",
		scheme, ln.Addr(), sealingID, cfg.JWTAlg, signingID, config.RedactURL(cfg.DatabaseURL), masterKeySource(cfg))

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
			return
		}
		errc <- srv.Serve(ln)
	}()
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

func masterKeySource(cfg *config.Config) string {
	if cfg.MasterKey != "" {
		return "SEALAUTH_MASTER_KEY"
	}
	return filepath.Join(cfg.DataDir, keyring.MasterKeyFile)
}

// loadTLS returns the TLS configuration when HTTPS is configured (certificate
// files, or --dev-tls), else nil.
func loadTLS(cfg *config.Config, devTLS bool, logger *slog.Logger) (*tls.Config, error) {
	certFile, keyFile := cfg.TLSCertFile, cfg.TLSKeyFile
	if devTLS {
		if certFile != "" {
			return nil, errors.New("--dev-tls and TLS_CERT_FILE exclude each other")
		}
		var err error
		if certFile, keyFile, err = tlsconf.DevCertificate(cfg.DataDir, nil); err != nil {
			return nil, fmt.Errorf("dev TLS: %w", err)
		}
		logger.Warn("serving HTTPS with a self-signed development certificate", "cert", certFile)
	}
	if certFile == "" {
		return nil, nil
	}
	rl, err := tlsconf.Load(certFile, keyFile, logger)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return rl.Config(), nil
}

// openLimits builds the rate limiters: in memory, or shared through Redis with
// local limits as the fallback while Redis does not answer.
func openLimits(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*ratelimit.Limits, func(), error) {
	rc := ratelimit.Config{Backoff: cfg.RateLimits.LoginFailures, Prefix: cfg.RedisPrefix, Logger: logger, Registerer: reg}
	closeRedis := func() {}
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL %s: %w", config.RedactURL(cfg.RedisURL), err)
		}
		// Short timeouts: a slow Redis must cost a request milliseconds, after
		// which the local limits answer.
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
		opt.MaxRetries = 0
		opt.ContextTimeoutEnabled = true
		client := redis.NewClient(opt)
		rc.Redis = client
		closeRedis = func() { _ = client.Close() }
	}
	limits, err := ratelimit.New(rc)
	if err != nil {
		closeRedis()
		return nil, nil, err
	}
	return limits, closeRedis, nil
}

// servePprof serves Go's profiler on its own listener, apart from the API, for
// operators who ask for it.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Warn("serving the profiler", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
