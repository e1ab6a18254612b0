package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/ratelimit"
	"github.com/sealauth/sealauth/internal/ratelimit/ratelimittest"
)

func TestMemoryLimiter(t *testing.T) {
	ratelimittest.TestLimiter(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.NewMemoryLimiter(ratelimit.WithClock(now))
	})
}

func TestMemoryFailures(t *testing.T) {
	ratelimittest.TestFailures(t, func(t *testing.T, now func() time.Time, b ratelimit.Backoff) ratelimit.Failures {
		f, err := ratelimit.NewMemoryFailures(b, ratelimit.WithClock(now))
		if err != nil {
			t.Fatalf("NewMemoryFailures(%+v): %v", b, err)
		}
		return f
	})
}

// An attacker rotating through addresses must not grow the table past its
// bound, and the keys it evicts are the idle ones.
func TestMemoryLimiterBounded(t *testing.T) {
	ctx := t.Context()
	clock := ratelimittest.NewClock(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))
	const maxKeys = 1_000
	l := ratelimit.NewMemoryLimiter(ratelimit.WithClock(clock.Now), ratelimit.WithMaxKeys(maxKeys))
	lim := ratelimit.PerHour(1)

	if res, _ := l.Allow(ctx, "victim", lim); !res.Allowed {
		t.Fatalf("Allow(victim) = %+v, want allowed", res)
	}
	for i := range 20 * maxKeys {
		if _, err := l.Allow(ctx, "attacker-"+strconv.Itoa(i), lim); err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if i%100 == 0 {
			// The victim keeps being used, so it stays among the recent.
			if res, _ := l.Allow(ctx, "victim", lim); res.Allowed {
				t.Fatalf("Allow(victim) #%d = %+v, want refused: its state was evicted", i, res)
			}
		}
	}
	// The per-shard bound rounds up, so allow for that.
	if n := l.Len(); n > maxKeys+16 {
		t.Fatalf("Len after %d keys = %d, want at most %d", 20*maxKeys, n, maxKeys+16)
	}
}

// Expired entries do not linger: keys whose state has lapsed make room for
// new ones before live ones are evicted.
func TestMemoryLimiterExpires(t *testing.T) {
	ctx := t.Context()
	clock := ratelimittest.NewClock(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))
	l := ratelimit.NewMemoryLimiter(ratelimit.WithClock(clock.Now), ratelimit.WithMaxKeys(160))
	lim := ratelimit.PerMinute(1)
	for i := range 100 {
		if _, err := l.Allow(ctx, "old-"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	for i := range 100 {
		if _, err := l.Allow(ctx, "new-"+strconv.Itoa(i), lim); err != nil {
			t.Fatal(err)
		}
	}
	// Every insertion removed up to two expired entries from its shard.
	if n := l.Len(); n > 110 {
		t.Fatalf("Len = %d, want the expired keys mostly gone (at most 110)", n)
	}
	for i := range 100 {
		if res, _ := l.Peek(ctx, "new-"+strconv.Itoa(i), lim); res.Allowed {
			t.Fatalf("Peek(new-%d) = %+v, want refused: a live key was evicted", i, res)
		}
	}
}

func TestMemoryFailuresBounded(t *testing.T) {
	ctx := t.Context()
	const maxKeys = 500
	f, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff(), ratelimit.WithMaxKeys(maxKeys))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 * maxKeys {
		if _, err := f.Fail(ctx, "user"+strconv.Itoa(i)+"@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Len(); n > maxKeys+16 {
		t.Fatalf("Len = %d, want at most %d", n, maxKeys+16)
	}
}

func TestMemoryFailuresInvalidBackoff(t *testing.T) {
	for _, b := range []ratelimit.Backoff{
		{},
		{Threshold: 5, Base: time.Second, Max: time.Millisecond, ForgetAfter: time.Hour},
		{Threshold: 5, Base: 0, Max: time.Second},
		{Threshold: 5, Base: time.Second, Max: time.Minute, ForgetAfter: -1},
	} {
		if _, err := ratelimit.NewMemoryFailures(b); err == nil {
			t.Errorf("NewMemoryFailures(%+v): err = nil, want an error", b)
		}
	}
}

// Huge keys cost no more memory than small ones: they are digested.
func TestMemoryHugeKey(t *testing.T) {
	l := ratelimit.NewMemoryLimiter()
	key := string(make([]byte, 1<<20))
	res, err := l.Allow(t.Context(), key, ratelimit.PerMinute(1))
	if err != nil || !res.Allowed {
		t.Fatalf("Allow(1 MB key) = %+v, %v; want allowed", res, err)
	}
	if res, _ := l.Allow(t.Context(), key, ratelimit.PerMinute(1)); res.Allowed {
		t.Fatalf("second Allow(1 MB key) = %+v, want refused", res)
	}
}
