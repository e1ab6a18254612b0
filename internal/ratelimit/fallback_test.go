package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sealauth/sealauth/internal/ratelimit"
)

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

const (
	logDown = "rate limiter: redis unavailable, using local limits"
	logBack = "rate limiter: redis back, using shared limits"
)

// metric reads one gauge or counter from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// switchable is a Limiter and Failures standing in for Redis: it works, fails
// at once, or hangs until its context ends (or forever, if told to ignore it).
type switchable struct {
	mode atomic.Int32 // one of the modes below
	l    *ratelimit.MemoryLimiter
	f    *ratelimit.MemoryFailures
}

const (
	modeWorks int32 = iota
	modeFails
	modeHangs
	modeHangsIgnoringContext
)

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func newSwitchable(t *testing.T) *switchable {
	f, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff())
	if err != nil {
		t.Fatal(err)
	}
	return &switchable{l: ratelimit.NewMemoryLimiter(), f: f}
}

func (s *switchable) gate(ctx context.Context) error {
	switch s.mode.Load() {
	case modeFails:
		return errDown
	case modeHangs:
		<-ctx.Done()
		return ctx.Err()
	case modeHangsIgnoringContext:
		time.Sleep(2 * time.Second)
		return errDown
	}
	return nil
}

func (s *switchable) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	if err := s.gate(ctx); err != nil {
		return ratelimit.Result{}, err
	}
	return s.l.Allow(ctx, key, l)
}

func (s *switchable) Peek(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	if err := s.gate(ctx); err != nil {
		return ratelimit.Result{}, err
	}
	return s.l.Peek(ctx, key, l)
}

func (s *switchable) Reset(ctx context.Context, key string) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	return s.l.Reset(ctx, key)
}

// switchableFailures is the Failures side of a switchable; a separate type
// because both interfaces have a Reset.
type switchableFailures struct{ *switchable }

func (s switchableFailures) Check(ctx context.Context, key string) (time.Duration, error) {
	if err := s.gate(ctx); err != nil {
		return 0, err
	}
	return s.f.Check(ctx, key)
}

func (s switchableFailures) Attempt(ctx context.Context, key string) (time.Duration, error) {
	if err := s.gate(ctx); err != nil {
		return 0, err
	}
	return s.f.Attempt(ctx, key)
}

func (s switchableFailures) Fail(ctx context.Context, key string) (time.Duration, error) {
	if err := s.gate(ctx); err != nil {
		return 0, err
	}
	return s.f.Fail(ctx, key)
}

func (s switchableFailures) Reset(ctx context.Context, key string) error {
	if err := s.gate(ctx); err != nil {
		return err
	}
	return s.f.Reset(ctx, key)
}

type fallbackRig struct {
	fb       *ratelimit.Fallback
	limiter  *ratelimit.FallbackLimiter
	failures *ratelimit.FallbackFailures
	primary  *switchable
	logs     *logBuffer
	reg      *prometheus.Registry
}

func newFallbackRig(t *testing.T, timeout time.Duration) *fallbackRig {
	t.Helper()
	r := &fallbackRig{primary: newSwitchable(t), logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	var err error
	r.fb, err = ratelimit.NewFallback(ratelimit.FallbackConfig{
		Logger:        slog.New(slog.NewTextHandler(r.logs, nil)),
		Registerer:    r.reg,
		Timeout:       timeout,
		RetryInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewFallback: %v", err)
	}
	localF, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff())
	if err != nil {
		t.Fatal(err)
	}
	r.limiter = r.fb.Limiter(r.primary, ratelimit.NewMemoryLimiter())
	r.failures = r.fb.Failures(switchableFailures{r.primary}, localF)
	return r
}

func TestFallbackSwitchesAndComesBack(t *testing.T) {
	ctx := t.Context()
	r := newFallbackRig(t, 100*time.Millisecond)
	lim := ratelimit.PerHour(5)

	for range 3 {
		if res, err := r.limiter.Allow(ctx, "k", lim); err != nil || !res.Allowed {
			t.Fatalf("Allow while Redis works = %+v, %v; want allowed", res, err)
		}
	}
	if got := metric(t, r.reg, "sealauth_ratelimit_redis_up"); got != 1 {
		t.Fatalf("redis_up = %v, want 1", got)
	}

	r.primary.mode.Store(modeFails)
	// The local limiter saw the three requests too, so it does not hand out
	// a fresh burst: two remain, then refusals, all without an error.
	for i, want := range []bool{true, true, false, false} {
		res, err := r.limiter.Allow(ctx, "k", lim)
		if err != nil || res.Allowed != want {
			t.Fatalf("Allow #%d while Redis fails = %+v, %v; want allowed %v and no error", i+1, res, err, want)
		}
	}
	if r.fb.Available() {
		t.Fatal("Available() = true while Redis fails")
	}
	if d, err := r.failures.Attempt(ctx, "acct"); err != nil || d != 0 {
		t.Fatalf("Attempt while Redis fails = %v, %v; want 0, nil", d, err)
	}
	if _, err := r.failures.Check(ctx, "acct"); err != nil {
		t.Fatalf("Check while Redis fails: %v", err)
	}
	if err := r.failures.Reset(ctx, "acct"); err != nil {
		t.Fatalf("Reset while Redis fails: %v", err)
	}
	if err := r.limiter.Reset(ctx, "k"); err != nil {
		t.Fatalf("Limiter.Reset while Redis fails: %v", err)
	}
	if _, err := r.limiter.Peek(ctx, "k", lim); err != nil {
		t.Fatalf("Peek while Redis fails: %v", err)
	}
	if n := r.logs.count(logDown); n != 1 {
		t.Fatalf("%q logged %d times, want once per transition", logDown, n)
	}
	if got := metric(t, r.reg, "sealauth_ratelimit_redis_up"); got != 0 {
		t.Fatalf("redis_up = %v while Redis fails, want 0", got)
	}
	if got := metric(t, r.reg, "sealauth_ratelimit_fallback_total"); got < 8 {
		t.Fatalf("fallback_total = %v, want every call while down (at least 8)", got)
	}

	r.primary.mode.Store(modeWorks)
	deadline := time.Now().Add(5 * time.Second)
	for !r.fb.Available() {
		if time.Now().After(deadline) {
			t.Fatal("Fallback did not go back to Redis within 5s")
		}
		if _, err := r.limiter.Allow(ctx, "other", lim); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := r.logs.count(logBack); n != 1 {
		t.Fatalf("%q logged %d times, want once", logBack, n)
	}
	if got := metric(t, r.reg, "sealauth_ratelimit_redis_up"); got != 1 {
		t.Fatalf("redis_up = %v after recovery, want 1", got)
	}
	// Redis's state wins again: it saw three requests on "k" before the
	// outage and none during it (the Reset during the outage reached only
	// the local state).
	res, err := r.limiter.Peek(ctx, "k", lim)
	if err != nil || res.Remaining != 2 {
		t.Fatalf("Peek after recovery = %+v, %v; want Redis's Remaining 2", res, err)
	}
}

// A Redis that accepts connections but never answers costs each request no
// more than the timeout, and afterwards requests do not wait at all until the
// next probe.
func TestFallbackTimeout(t *testing.T) {
	for name, mode := range map[string]int32{"deadline reaches the socket": modeHangs, "client ignores the deadline": modeHangsIgnoringContext} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			r := newFallbackRig(t, 50*time.Millisecond)
			r.primary.mode.Store(mode)
			start := time.Now()
			res, err := r.limiter.Allow(ctx, "k", ratelimit.PerMinute(1))
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Fatalf("Allow with a hanging Redis took %v, want about the 50ms timeout", elapsed)
			}
			if err != nil || !res.Allowed {
				t.Fatalf("Allow with a hanging Redis = %+v, %v; want the local answer", res, err)
			}
			if r.fb.Available() {
				t.Fatal("Available() = true after a timeout")
			}
			start = time.Now()
			for range 10 {
				if _, err := r.limiter.Allow(ctx, "k", ratelimit.PerMinute(1)); err != nil {
					t.Fatal(err)
				}
			}
			// Within the 20ms retry interval at most one call probes.
			if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
				t.Fatalf("10 Allow while Redis is known to hang took %v", elapsed)
			}
			if got := metric(t, r.reg, "sealauth_ratelimit_redis_errors_total"); got < 1 {
				t.Fatalf("redis_errors_total = %v, want at least 1", got)
			}
		})
	}
}

// A caller that gave up is not a sign that Redis is down.
func TestFallbackCallerCanceled(t *testing.T) {
	r := newFallbackRig(t, 100*time.Millisecond)
	r.primary.mode.Store(modeHangs)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.limiter.Allow(ctx, "k", ratelimit.PerMinute(1)); err != nil {
		t.Fatalf("Allow with a canceled context: %v, want the local answer", err)
	}
	if !r.fb.Available() {
		t.Fatal("Available() = false after the caller canceled, want true")
	}
}

func TestFallbackInvalidLimit(t *testing.T) {
	r := newFallbackRig(t, 100*time.Millisecond)
	for _, mode := range []int32{modeWorks, modeFails} {
		r.primary.mode.Store(mode)
		if _, err := r.limiter.Allow(t.Context(), "k", ratelimit.Limit{Rate: -1, Period: time.Second}); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Fatalf("Allow(invalid limit) in mode %d: err = %v, want ErrInvalidLimit", mode, err)
		}
		if _, err := r.limiter.Peek(t.Context(), "k", ratelimit.Limit{Rate: -1, Period: time.Second}); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Fatalf("Peek(invalid limit) in mode %d: err = %v, want ErrInvalidLimit", mode, err)
		}
	}
}

func TestFallbackRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := ratelimit.NewFallback(ratelimit.FallbackConfig{Registerer: reg}); err != nil {
		t.Fatalf("first NewFallback: %v", err)
	}
	if _, err := ratelimit.NewFallback(ratelimit.FallbackConfig{Registerer: reg}); err == nil {
		t.Fatal("second NewFallback on one registry: err = nil, want a registration error")
	}
	if _, err := ratelimit.NewFallback(ratelimit.FallbackConfig{}); err != nil {
		t.Fatalf("NewFallback without a registry: %v", err)
	}
}

// redisServer is a private redis-server that a test may stop and restart.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed; CI must run this test")
		}
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{t: t, bin: bin, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	// #nosec G204 -- redis-server from PATH, with arguments built here.
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir(), "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(s.t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// The whole path against a real Redis that dies and comes back: requests keep
// being answered, without errors, from local limits, and the shared limits
// return with Redis.
func TestFallbackRealRedisStopped(t *testing.T) {
	srv := startRedisServer(t)
	ctx := t.Context()
	client := redis.NewClient(&redis.Options{
		Addr: srv.addr(), ContextTimeoutEnabled: true, DialTimeout: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = client.Close() })
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	fb, err := ratelimit.NewFallback(ratelimit.FallbackConfig{
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg,
		Timeout: 100 * time.Millisecond, RetryInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "sealauth-test:"
	redisFailures, err := ratelimit.NewRedisFailures(client, prefix, ratelimit.DefaultBackoff())
	if err != nil {
		t.Fatal(err)
	}
	localFailures, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff())
	if err != nil {
		t.Fatal(err)
	}
	limiter := fb.Limiter(ratelimit.NewRedisLimiter(client, prefix), ratelimit.NewMemoryLimiter())
	failures := fb.Failures(redisFailures, localFailures)
	lim := ratelimit.PerHour(4)

	for range 2 {
		if res, err := limiter.Allow(ctx, "ip", lim); err != nil || !res.Allowed {
			t.Fatalf("Allow with Redis up = %+v, %v", res, err)
		}
	}
	if _, err := failures.Fail(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if n, err := client.DBSize(ctx).Result(); err != nil || n != 2 {
		t.Fatalf("DBSize = %d, %v; want the 2 keys written to Redis", n, err)
	}

	srv.stop()
	for i, want := range []bool{true, true, false} {
		res, err := limiter.Allow(ctx, "ip", lim)
		if err != nil || res.Allowed != want {
			t.Fatalf("Allow #%d with Redis stopped = %+v, %v; want allowed %v, no error", i+1, res, err, want)
		}
	}
	if _, err := failures.Attempt(ctx, "acct"); err != nil {
		t.Fatalf("Attempt with Redis stopped: %v", err)
	}
	if fb.Available() || metric(t, reg, "sealauth_ratelimit_redis_up") != 0 {
		t.Fatal("Fallback still reports Redis available after it stopped")
	}

	srv.start()
	deadline := time.Now().Add(5 * time.Second)
	for !fb.Available() {
		if time.Now().After(deadline) {
			t.Fatal("Fallback did not return to Redis within 5s of its restart")
		}
		if _, err := limiter.Allow(ctx, "probe", lim); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The restarted Redis kept nothing on disk, so its limit starts afresh
	// (and its script cache too: the EVALSHA falls back to EVAL once).
	res, err := limiter.Allow(ctx, "ip", lim)
	if err != nil || !res.Allowed || res.Remaining != 3 {
		t.Fatalf("Allow after Redis returned = %+v, %v; want Redis's fresh Remaining 3", res, err)
	}
	if n := logs.count(logDown); n != 1 {
		t.Errorf("%q logged %d times, want 1", logDown, n)
	}
	if n := logs.count(logBack); n != 1 {
		t.Errorf("%q logged %d times, want 1", logBack, n)
	}
}
