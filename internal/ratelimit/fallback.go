package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of [FallbackConfig].
const (
	DefaultRedisTimeout  = 100 * time.Millisecond
	DefaultRetryInterval = time.Second
)

// FallbackConfig configures a [Fallback].
type FallbackConfig struct {
	// Logger receives one line when Redis becomes unavailable and one when it
	// is back; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none. Pass the server's
	// own registry, not the global default one.
	Registerer prometheus.Registerer
	// Timeout bounds each call to Redis (default [DefaultRedisTimeout]); a
	// slower answer counts as Redis being unavailable.
	Timeout time.Duration
	// RetryInterval is how often, while Redis is unavailable, one request
	// tries it again (default [DefaultRetryInterval]); the others go straight
	// to the local limits instead of each waiting for a timeout.
	RetryInterval time.Duration
}

// Fallback tracks whether Redis answers and, through the limiters it wraps
// (see [Fallback.Limiter] and [Fallback.Failures]), sends each call to Redis
// while it does and to local memory while it does not. Callers never see a
// Redis error, so an outage degrades shared limits to per-instance ones
// instead of turning into 500s.
//
// The local limits are also updated while Redis answers, so that when it
// fails they already know this instance's recent traffic and do not hand
// every client a fresh burst. While Redis is unavailable, a successful
// login's Reset reaches only the local state: the shared counter forgets it
// after the backoff's ForgetAfter or at the next Reset.
//
// Metrics, when a Registerer is given:
//
//	sealauth_ratelimit_redis_up          gauge, 1 while Redis answers, 0 while local limits apply
//	sealauth_ratelimit_fallback_total    counter, calls answered locally because Redis did not answer
//	sealauth_ratelimit_redis_errors_total counter, Redis calls that failed or timed out
type Fallback struct {
	logger        *slog.Logger
	timeout       time.Duration
	retryInterval time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // UnixNano; while down, the first call after it tries Redis

	up        prometheus.Gauge
	fallbacks prometheus.Counter
	errors    prometheus.Counter
}

// NewFallback returns a Fallback that assumes Redis answers until a call
// shows otherwise. It fails only if the metrics cannot be registered, as when
// a Fallback was already registered with the same Registerer.
func NewFallback(cfg FallbackConfig) (*Fallback, error) {
	f := &Fallback{
		logger:        cfg.Logger,
		timeout:       cfg.Timeout,
		retryInterval: cfg.RetryInterval,
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "sealauth", Subsystem: "ratelimit", Name: "redis_up",
			Help: "1 while rate limits are shared through Redis, 0 while each instance applies its own because Redis does not answer.",
		}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "sealauth", Subsystem: "ratelimit", Name: "fallback_total",
			Help: "Rate-limit calls answered from local memory because Redis did not answer.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "sealauth", Subsystem: "ratelimit", Name: "redis_errors_total",
			Help: "Rate-limit calls to Redis that failed or timed out.",
		}),
	}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	if f.timeout <= 0 {
		f.timeout = DefaultRedisTimeout
	}
	if f.retryInterval <= 0 {
		f.retryInterval = DefaultRetryInterval
	}
	f.up.Set(1)
	if reg := cfg.Registerer; reg != nil {
		for _, c := range []prometheus.Collector{f.up, f.fallbacks, f.errors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// Available reports whether calls currently go to Redis; for readiness
// checks and tests.
func (f *Fallback) Available() bool { return !f.down.Load() }

// useRedis reports whether this call should try Redis: always while it is
// available, and once per RetryInterval while it is not.
func (f *Fallback) useRedis() bool {
	if !f.down.Load() {
		return true
	}
	next := f.nextProbe.Load()
	now := time.Now().UnixNano()
	return now >= next && f.nextProbe.CompareAndSwap(next, now+f.retryInterval.Nanoseconds())
}

// failed records that Redis did not answer, logging the transition once.
func (f *Fallback) failed(ctx context.Context, err error) {
	f.errors.Inc()
	f.nextProbe.Store(time.Now().Add(f.retryInterval).UnixNano())
	if f.down.CompareAndSwap(false, true) {
		f.up.Set(0)
		f.logger.LogAttrs(ctx, slog.LevelWarn, "rate limiter: redis unavailable, using local limits", slog.String("error", err.Error()))
	}
}

// succeeded records that Redis answered, logging the transition once.
func (f *Fallback) succeeded(ctx context.Context) {
	if f.down.CompareAndSwap(true, false) {
		f.up.Set(1)
		f.logger.LogAttrs(ctx, slog.LevelInfo, "rate limiter: redis back, using shared limits")
	}
}

// call runs op against Redis within the timeout and reports whether it
// answered. The timeout is enforced here, not only through ctx, because a
// go-redis client without ContextTimeoutEnabled ignores deadlines on the
// socket; the goroutine then finishes on its own when the client gives up.
// A caller whose own context ended is not Redis's fault, so that case falls
// back without marking Redis unavailable.
func call[T any](ctx context.Context, f *Fallback, op func(context.Context) (T, error)) (T, bool, error) {
	var zero T
	if !f.useRedis() {
		f.fallbacks.Inc()
		return zero, false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := op(rctx)
		done <- answer{v, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-rctx.Done():
		a.err = rctx.Err()
	}
	switch {
	case a.err == nil:
		f.succeeded(ctx)
		return a.v, true, nil
	case errors.Is(a.err, ErrInvalidLimit):
		return zero, false, a.err
	case ctx.Err() != nil:
		// The caller gave up; an answer from the local state serves it.
	default:
		f.failed(ctx, a.err)
	}
	f.fallbacks.Inc()
	return zero, false, nil
}

// Limiter returns a [Limiter] that uses primary (the Redis one) while Redis
// answers and local (a memory one) while it does not.
func (f *Fallback) Limiter(primary, local Limiter) *FallbackLimiter {
	return &FallbackLimiter{f: f, primary: primary, local: local}
}

// Failures returns a [Failures] that uses primary (the Redis one) while Redis
// answers and local (a memory one) while it does not.
func (f *Fallback) Failures(primary, local Failures) *FallbackFailures {
	return &FallbackFailures{f: f, primary: primary, local: local}
}

// FallbackLimiter is the [Limiter] of a [Fallback]. It returns an error only
// for an invalid [Limit], never for Redis.
type FallbackLimiter struct {
	f              *Fallback
	primary, local Limiter
}

// Allow implements [Limiter].
func (l *FallbackLimiter) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	localRes, err := l.local.Allow(ctx, key, lim)
	if err != nil {
		return Result{}, err
	}
	res, ok, err := call(ctx, l.f, func(ctx context.Context) (Result, error) { return l.primary.Allow(ctx, key, lim) })
	if ok || err != nil {
		return res, err
	}
	return localRes, nil
}

// Peek implements [Limiter].
func (l *FallbackLimiter) Peek(ctx context.Context, key string, lim Limit) (Result, error) {
	res, ok, err := call(ctx, l.f, func(ctx context.Context) (Result, error) { return l.primary.Peek(ctx, key, lim) })
	if ok || err != nil {
		return res, err
	}
	return l.local.Peek(ctx, key, lim)
}

// Reset implements [Limiter].
func (l *FallbackLimiter) Reset(ctx context.Context, key string) error {
	_ = l.local.Reset(ctx, key) // memory: cannot fail
	_, _, _ = call(ctx, l.f, func(ctx context.Context) (struct{}, error) { return struct{}{}, l.primary.Reset(ctx, key) })
	return nil
}

// FallbackFailures is the [Failures] of a [Fallback]. It never returns an
// error.
type FallbackFailures struct {
	f              *Fallback
	primary, local Failures
}

// Check implements [Failures].
func (w *FallbackFailures) Check(ctx context.Context, key string) (time.Duration, error) {
	d, ok, _ := call(ctx, w.f, func(ctx context.Context) (time.Duration, error) { return w.primary.Check(ctx, key) })
	if ok {
		return d, nil
	}
	return w.local.Check(ctx, key)
}

// Attempt implements [Failures].
func (w *FallbackFailures) Attempt(ctx context.Context, key string) (time.Duration, error) {
	return w.both(ctx, key, Failures.Attempt)
}

// Fail implements [Failures].
func (w *FallbackFailures) Fail(ctx context.Context, key string) (time.Duration, error) {
	return w.both(ctx, key, Failures.Fail)
}

// both applies op locally, to keep the local state warm, and to Redis, whose
// answer wins when there is one.
func (w *FallbackFailures) both(ctx context.Context, key string, op func(Failures, context.Context, string) (time.Duration, error)) (time.Duration, error) {
	localD, err := op(w.local, ctx, key)
	if err != nil {
		return 0, err
	}
	d, ok, _ := call(ctx, w.f, func(ctx context.Context) (time.Duration, error) { return op(w.primary, ctx, key) })
	if ok {
		return d, nil
	}
	return localD, nil
}

// Reset implements [Failures].
func (w *FallbackFailures) Reset(ctx context.Context, key string) error {
	_ = w.local.Reset(ctx, key) // memory: cannot fail
	_, _, _ = call(ctx, w.f, func(ctx context.Context) (struct{}, error) { return struct{}{}, w.primary.Reset(ctx, key) })
	return nil
}
