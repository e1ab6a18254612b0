package ratelimit

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPrefix is the Redis key prefix unless configured otherwise.
const DefaultPrefix = "sealauth:rl:"

// Config describes the limiters a server needs; [New] builds them.
type Config struct {
	// Redis shares the limits between instances; nil keeps them in memory.
	Redis RedisClient
	// Prefix namespaces the Redis keys (default [DefaultPrefix]).
	Prefix string
	// Backoff throttles Failures (default [DefaultBackoff]).
	Backoff Backoff
	// MaxKeys bounds each memory table (default [DefaultMaxKeys]).
	MaxKeys int
	// Logger, Registerer, Timeout and RetryInterval configure the
	// [Fallback] used with Redis; see [FallbackConfig].
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	Timeout       time.Duration
	RetryInterval time.Duration
}

// Limits is what [New] builds.
type Limits struct {
	Limiter  Limiter
	Failures Failures
	// Fallback reports whether Redis answers; nil without Redis.
	Fallback *Fallback
}

// New builds the limiters cfg describes: memory ones without Redis, and with
// Redis the Redis ones behind a [Fallback] to memory ones, so that callers
// never see a Redis error. It fails if cfg.Backoff is invalid or the metrics
// cannot be registered.
func New(cfg Config) (*Limits, error) {
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	localFailures, err := NewMemoryFailures(cfg.Backoff, WithMaxKeys(cfg.MaxKeys))
	if err != nil {
		return nil, err
	}
	localLimiter := NewMemoryLimiter(WithMaxKeys(cfg.MaxKeys))
	if cfg.Redis == nil {
		return &Limits{Limiter: localLimiter, Failures: localFailures}, nil
	}
	redisFailures, err := NewRedisFailures(cfg.Redis, cfg.Prefix, cfg.Backoff)
	if err != nil {
		return nil, err
	}
	fb, err := NewFallback(FallbackConfig{Logger: cfg.Logger, Registerer: cfg.Registerer, Timeout: cfg.Timeout, RetryInterval: cfg.RetryInterval})
	if err != nil {
		return nil, err
	}
	return &Limits{
		Limiter:  fb.Limiter(NewRedisLimiter(cfg.Redis, cfg.Prefix), localLimiter),
		Failures: fb.Failures(redisFailures, localFailures),
		Fallback: fb,
	}, nil
}
