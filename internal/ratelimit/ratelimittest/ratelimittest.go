// Package ratelimittest holds the conformance suites that every
// ratelimit.Limiter and ratelimit.Failures implementation runs, in the manner
// of testing/fstest.TestFS.
//
// The suites control time: each subtest makes a fresh [Clock] and passes its
// Now to the constructor, which must make the implementation read the time
// from it (ratelimit.WithClock). Limits in the suites have periods of minutes
// or more, so that state an implementation expires in real time (Redis TTLs)
// outlives any slow test run.
package ratelimittest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/ratelimit"
)

// Clock is a fake clock that moves only when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// start is where every suite's clock begins: a whole second, in the future of
// any real clock so that stale real-time state cannot interfere.
func start() time.Time { return time.Date(2031, time.January, 2, 3, 4, 5, 0, time.UTC) }

// uniqueKey returns a key no other test run uses, so that suites may share one
// Redis database without cleaning up between subtests.
func uniqueKey(t *testing.T, name string) string {
	t.Helper()
	return fmt.Sprintf("test:%s:%s:%016x", t.Name(), name, rand.Uint64()) // #nosec G404 -- uniqueness, not secrecy
}

// TestLimiter checks that a Limiter meets the ratelimit.Limiter contract. For
// each subtest it calls newLimiter with the clock the limiter must use;
// newLimiter registers any cleanup with t.Cleanup.
func TestLimiter(t *testing.T, newLimiter func(t *testing.T, now func() time.Time) ratelimit.Limiter) {
	t.Helper()
	ctx := t.Context()
	perMinute := ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 10} // one every 6 s

	t.Run("burst then refusal with RetryAfter", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key := uniqueKey(t, "k")
		for i := range 10 {
			res := allow(ctx, t, l, key, perMinute)
			want := ratelimit.Result{Limit: perMinute, Allowed: true, Remaining: 9 - i, ResetAfter: time.Duration(i+1) * 6 * time.Second}
			if res != want {
				t.Fatalf("Allow #%d = %+v, want %+v", i+1, res, want)
			}
		}
		res := allow(ctx, t, l, key, perMinute)
		want := ratelimit.Result{Limit: perMinute, Allowed: false, Remaining: 0, RetryAfter: 6 * time.Second, ResetAfter: time.Minute}
		if res != want {
			t.Fatalf("Allow #11 = %+v, want %+v", res, want)
		}
		// A refusal consumes nothing: asking again a little later brings
		// the wait closer rather than pushing it out.
		clock.Advance(2 * time.Second)
		res = allow(ctx, t, l, key, perMinute)
		if res.Allowed || res.RetryAfter != 4*time.Second {
			t.Fatalf("Allow 2s after refusal = %+v, want refused with RetryAfter 4s", res)
		}
	})

	t.Run("refill over time", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key := uniqueKey(t, "k")
		for range 10 {
			allow(ctx, t, l, key, perMinute)
		}
		clock.Advance(6*time.Second - time.Microsecond)
		if res := allow(ctx, t, l, key, perMinute); res.Allowed || res.RetryAfter != time.Microsecond {
			t.Fatalf("Allow 1µs before the refill = %+v, want refused with RetryAfter 1µs", res)
		}
		clock.Advance(time.Microsecond)
		if res := allow(ctx, t, l, key, perMinute); !res.Allowed || res.Remaining != 0 {
			t.Fatalf("Allow at the refill = %+v, want allowed with Remaining 0", res)
		}
		if res := allow(ctx, t, l, key, perMinute); res.Allowed {
			t.Fatalf("Allow right after the refill = %+v, want refused", res)
		}
		// After three refills, three requests pass and the fourth does not.
		clock.Advance(18 * time.Second)
		for i := range 3 {
			if res := allow(ctx, t, l, key, perMinute); !res.Allowed || res.Remaining != 2-i {
				t.Fatalf("Allow #%d after 18s = %+v, want allowed with Remaining %d", i+1, res, 2-i)
			}
		}
		if res := allow(ctx, t, l, key, perMinute); res.Allowed {
			t.Fatalf("Allow #4 after 18s = %+v, want refused", res)
		}
		// A long idle time refills the burst and no more.
		clock.Advance(24 * time.Hour)
		for i := range 10 {
			if res := allow(ctx, t, l, key, perMinute); !res.Allowed {
				t.Fatalf("Allow #%d after a day = %+v, want allowed", i+1, res)
			}
		}
		if res := allow(ctx, t, l, key, perMinute); res.Allowed {
			t.Fatalf("Allow #11 after a day = %+v, want refused", res)
		}
	})

	t.Run("burst smaller and larger than the rate", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		for _, lim := range []ratelimit.Limit{
			{Rate: 60, Period: time.Hour, Burst: 3},  // one a minute, three at once
			{Rate: 2, Period: time.Minute, Burst: 5}, // one every 30 s, five at once
			{Rate: 7, Period: time.Minute},           // burst defaults to the rate
		} {
			key := uniqueKey(t, lim.String())
			burst := lim.Burst
			if burst == 0 {
				burst = lim.Rate
			}
			for i := range burst {
				if res := allow(ctx, t, l, key, lim); !res.Allowed || res.Remaining != burst-1-i {
					t.Fatalf("%v: Allow #%d = %+v, want allowed with Remaining %d", lim, i+1, res, burst-1-i)
				}
			}
			res := allow(ctx, t, l, key, lim)
			interval := lim.Period / time.Duration(lim.Rate)
			if res.Allowed || res.RetryAfter.Round(time.Millisecond) != interval.Round(time.Millisecond) {
				t.Fatalf("%v: Allow #%d = %+v, want refused with RetryAfter %v", lim, burst+1, res, interval)
			}
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		a, b := uniqueKey(t, "a"), uniqueKey(t, "b")
		for range 10 {
			allow(ctx, t, l, a, perMinute)
		}
		if res := allow(ctx, t, l, a, perMinute); res.Allowed {
			t.Fatalf("Allow(a) after its burst = %+v, want refused", res)
		}
		if res := allow(ctx, t, l, b, perMinute); !res.Allowed || res.Remaining != 9 {
			t.Fatalf("Allow(b) = %+v, want allowed with Remaining 9", res)
		}
	})

	t.Run("Peek consumes nothing", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key := uniqueKey(t, "k")
		res := peek(ctx, t, l, key, perMinute)
		if want := (ratelimit.Result{Limit: perMinute, Allowed: true, Remaining: 10}); res != want {
			t.Fatalf("Peek on a new key = %+v, want %+v", res, want)
		}
		for range 3 {
			allow(ctx, t, l, key, perMinute)
		}
		for range 5 {
			res = peek(ctx, t, l, key, perMinute)
		}
		if want := (ratelimit.Result{Limit: perMinute, Allowed: true, Remaining: 7, ResetAfter: 18 * time.Second}); res != want {
			t.Fatalf("Peek after 3 Allow = %+v, want %+v", res, want)
		}
		for range 7 {
			allow(ctx, t, l, key, perMinute)
		}
		res = peek(ctx, t, l, key, perMinute)
		if want := (ratelimit.Result{Limit: perMinute, RetryAfter: 6 * time.Second, ResetAfter: time.Minute}); res != want {
			t.Fatalf("Peek after the burst = %+v, want %+v", res, want)
		}
	})

	t.Run("Reset restores the burst", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key, other := uniqueKey(t, "k"), uniqueKey(t, "other")
		for range 10 {
			allow(ctx, t, l, key, perMinute)
			allow(ctx, t, l, other, perMinute)
		}
		if err := l.Reset(ctx, key); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if res := allow(ctx, t, l, key, perMinute); !res.Allowed || res.Remaining != 9 {
			t.Fatalf("Allow after Reset = %+v, want allowed with Remaining 9", res)
		}
		if res := allow(ctx, t, l, other, perMinute); res.Allowed {
			t.Fatalf("Allow(other key) after Reset = %+v, want still refused", res)
		}
		if err := l.Reset(ctx, uniqueKey(t, "never-used")); err != nil {
			t.Fatalf("Reset of an unknown key: %v, want nil", err)
		}
	})

	t.Run("the zero Limit allows everything", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key := uniqueKey(t, "k")
		for range 100 {
			if res := allow(ctx, t, l, key, ratelimit.Limit{}); !res.Allowed {
				t.Fatalf("Allow with the zero Limit = %+v, want allowed", res)
			}
		}
	})

	t.Run("invalid limits are errors", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		for _, lim := range []ratelimit.Limit{
			{Rate: -1, Period: time.Minute},
			{Rate: 1, Period: 0},
			{Rate: 1, Period: time.Minute, Burst: -2},
			{Rate: 2_000_000, Period: time.Second},
		} {
			if _, err := l.Allow(ctx, uniqueKey(t, "k"), lim); err == nil {
				t.Errorf("Allow(%+v): err = nil, want ErrInvalidLimit", lim)
			}
		}
	})

	t.Run("concurrent Allow on one key grants exactly the burst", func(t *testing.T) {
		clock := NewClock(start())
		l := newLimiter(t, clock.Now)
		key := uniqueKey(t, "k")
		const callers = 50
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
			errs    []error
		)
		for range callers {
			wg.Go(func() {
				res, err := l.Allow(ctx, key, perMinute)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if res.Allowed {
					allowed++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("concurrent Allow: %d errors, first %v", len(errs), errs[0])
		}
		if allowed != 10 {
			t.Fatalf("%d concurrent Allow with burst 10: %d allowed, want 10", callers, allowed)
		}
	})
}

// TestFailures checks that a Failures meets the ratelimit.Failures contract.
// For each subtest it calls newFailures with the clock to use and the backoff
// to apply; newFailures registers any cleanup with t.Cleanup.
func TestFailures(t *testing.T, newFailures func(t *testing.T, now func() time.Time, b ratelimit.Backoff) ratelimit.Failures) {
	t.Helper()
	ctx := t.Context()
	backoff := ratelimit.Backoff{Threshold: 20, Base: time.Second, Max: 15 * time.Minute, ForgetAfter: 24 * time.Hour}

	t.Run("throttles after the threshold with doubling delays", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		key := uniqueKey(t, "acct")
		for i := range 19 {
			if d := fail(ctx, t, f, key); d != 0 {
				t.Fatalf("Fail #%d = %v, want 0 below the threshold", i+1, d)
			}
			if d := check(ctx, t, f, key); d != 0 {
				t.Fatalf("Check after %d failures = %v, want 0", i+1, d)
			}
		}
		if d := fail(ctx, t, f, key); d != time.Second {
			t.Fatalf("Fail #20 = %v, want 1s", d)
		}
		if d := check(ctx, t, f, key); d != time.Second {
			t.Fatalf("Check after 20 failures = %v, want 1s", d)
		}
		clock.Advance(400 * time.Millisecond)
		if d := check(ctx, t, f, key); d != 600*time.Millisecond {
			t.Fatalf("Check 400ms later = %v, want 600ms", d)
		}
		clock.Advance(600 * time.Millisecond)
		if d := check(ctx, t, f, key); d != 0 {
			t.Fatalf("Check when the delay ends = %v, want 0", d)
		}
		want := 2 * time.Second
		for n := 21; n <= 40; n++ {
			if d := fail(ctx, t, f, key); d != want {
				t.Fatalf("Fail #%d = %v, want %v", n, d, want)
			}
			if d := check(ctx, t, f, key); d != want {
				t.Fatalf("Check after %d failures = %v, want %v", n, d, want)
			}
			clock.Advance(want)
			want = min(2*want, 15*time.Minute)
		}
		if want != 15*time.Minute {
			t.Fatalf("the delay grew to %v, want the 15m cap", want)
		}
	})

	t.Run("Attempt refuses while throttled and counts in advance", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		key := uniqueKey(t, "acct")
		for i := range 20 {
			if d := attempt(ctx, t, f, key); d != 0 {
				t.Fatalf("Attempt #%d = %v, want 0", i+1, d)
			}
		}
		// Twenty attempts that never succeeded are twenty failures.
		if d := check(ctx, t, f, key); d != time.Second {
			t.Fatalf("Check after 20 Attempt = %v, want 1s", d)
		}
		for range 5 {
			if d := attempt(ctx, t, f, key); d != time.Second {
				t.Fatalf("Attempt while throttled = %v, want 1s", d)
			}
		}
		// Refused attempts count nothing: the delay is still the first one.
		clock.Advance(time.Second)
		if d := attempt(ctx, t, f, key); d != 0 {
			t.Fatalf("Attempt after the delay = %v, want 0", d)
		}
		if d := check(ctx, t, f, key); d != 2*time.Second {
			t.Fatalf("Check after the 21st attempt = %v, want 2s", d)
		}
	})

	t.Run("concurrent Attempt lets exactly the threshold through", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		key := uniqueKey(t, "acct")
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			through int
			errs    []error
		)
		for range 50 {
			wg.Go(func() {
				d, err := f.Attempt(ctx, key)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if d == 0 {
					through++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("concurrent Attempt: %d errors, first %v", len(errs), errs[0])
		}
		// Twenty free attempts, the twentieth of which starts the 1 s delay;
		// the clock does not move, so no more get through.
		if through != 20 {
			t.Fatalf("50 concurrent Attempt with threshold 20: %d through, want 20", through)
		}
	})

	t.Run("Reset after a success", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		key, other := uniqueKey(t, "acct"), uniqueKey(t, "other")
		for range 25 {
			fail(ctx, t, f, key)
			fail(ctx, t, f, other)
		}
		if d := check(ctx, t, f, key); d != 32*time.Second {
			t.Fatalf("Check after 25 failures = %v, want 32s", d)
		}
		if err := f.Reset(ctx, key); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if d := check(ctx, t, f, key); d != 0 {
			t.Fatalf("Check after Reset = %v, want 0", d)
		}
		if d := check(ctx, t, f, other); d != 32*time.Second {
			t.Fatalf("Check(other key) after Reset = %v, want still 32s", d)
		}
		// The count starts again from zero.
		for i := range 19 {
			if d := fail(ctx, t, f, key); d != 0 {
				t.Fatalf("Fail #%d after Reset = %v, want 0", i+1, d)
			}
		}
		if err := f.Reset(ctx, uniqueKey(t, "never-used")); err != nil {
			t.Fatalf("Reset of an unknown key: %v, want nil", err)
		}
	})

	t.Run("failures are forgotten after a quiet time", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		key := uniqueKey(t, "acct")
		for range 22 {
			fail(ctx, t, f, key) // the last delay is 4 s
		}
		// Not yet forgotten 1µs before the end of delay plus ForgetAfter.
		clock.Advance(4*time.Second + 24*time.Hour - time.Microsecond)
		if d := fail(ctx, t, f, key); d != 8*time.Second {
			t.Fatalf("Fail just before forgetting = %v, want 8s (23 failures)", d)
		}
		clock.Advance(8*time.Second + 24*time.Hour)
		if d := check(ctx, t, f, key); d != 0 {
			t.Fatalf("Check after forgetting = %v, want 0", d)
		}
		for i := range 19 {
			if d := fail(ctx, t, f, key); d != 0 {
				t.Fatalf("Fail #%d after forgetting = %v, want 0", i+1, d)
			}
		}
		if d := fail(ctx, t, f, key); d != time.Second {
			t.Fatalf("Fail #20 after forgetting = %v, want 1s", d)
		}
	})

	t.Run("a small threshold and cap", func(t *testing.T) {
		clock := NewClock(start())
		b := ratelimit.Backoff{Threshold: 1, Base: 250 * time.Millisecond, Max: time.Second, ForgetAfter: time.Hour}
		f := newFailures(t, clock.Now, b)
		key := uniqueKey(t, "acct")
		for i, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second} {
			if d := fail(ctx, t, f, key); d != want {
				t.Fatalf("Fail #%d = %v, want %v", i+1, d, want)
			}
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		clock := NewClock(start())
		f := newFailures(t, clock.Now, backoff)
		a, b := uniqueKey(t, "a"), uniqueKey(t, "b")
		for range 20 {
			fail(ctx, t, f, a)
		}
		if d := check(ctx, t, f, b); d != 0 {
			t.Fatalf("Check(b) = %v, want 0", d)
		}
		if d := attempt(ctx, t, f, b); d != 0 {
			t.Fatalf("Attempt(b) = %v, want 0", d)
		}
	})
}

func allow(ctx context.Context, t *testing.T, l ratelimit.Limiter, key string, lim ratelimit.Limit) ratelimit.Result {
	t.Helper()
	res, err := l.Allow(ctx, key, lim)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, lim, err)
	}
	return res
}

func peek(ctx context.Context, t *testing.T, l ratelimit.Limiter, key string, lim ratelimit.Limit) ratelimit.Result {
	t.Helper()
	res, err := l.Peek(ctx, key, lim)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, lim, err)
	}
	return res
}

func check(ctx context.Context, t *testing.T, f ratelimit.Failures, key string) time.Duration {
	t.Helper()
	d, err := f.Check(ctx, key)
	if err != nil {
		t.Fatalf("Check(%q): %v", key, err)
	}
	return d
}

func attempt(ctx context.Context, t *testing.T, f ratelimit.Failures, key string) time.Duration {
	t.Helper()
	d, err := f.Attempt(ctx, key)
	if err != nil {
		t.Fatalf("Attempt(%q): %v", key, err)
	}
	return d
}

func fail(ctx context.Context, t *testing.T, f ratelimit.Failures, key string) time.Duration {
	t.Helper()
	d, err := f.Fail(ctx, key)
	if err != nil {
		t.Fatalf("Fail(%q): %v", key, err)
	}
	return d
}
