package ratelimit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sealauth/sealauth/internal/ratelimit"
	"github.com/sealauth/sealauth/internal/ratelimit/ratelimittest"
)

// redisClient connects to the Redis named by SEALAUTH_TEST_REDIS_URL, skipping
// the test when it is unset, except in CI, where every test must run.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("SEALAUTH_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SEALAUTH_TEST_REDIS_URL is unset; CI must test against Redis")
		}
		t.Skip("SEALAUTH_TEST_REDIS_URL is unset")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("SEALAUTH_TEST_REDIS_URL: %v", err)
	}
	// A deadline on the context reaches the socket; the Fallback needs that
	// to bound its calls cheaply.
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("redis at SEALAUTH_TEST_REDIS_URL: %v", err)
	}
	return c
}

// secondClient is another connection pool to c's Redis, as a second server
// process would have.
func secondClient(t testing.TB, c *redis.Client) *redis.Client {
	t.Helper()
	opt := *c.Options()
	c2 := redis.NewClient(&opt)
	t.Cleanup(func() { _ = c2.Close() })
	return c2
}

// testPrefix returns a key prefix unique to this run and deletes every key
// under it when the test ends.
func testPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	prefix := "sealauth-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

func TestRedisLimiter(t *testing.T) {
	c := redisClient(t)
	ratelimittest.TestLimiter(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.NewRedisLimiter(c, testPrefix(t, c), ratelimit.WithClock(now))
	})
}

func TestRedisFailures(t *testing.T) {
	c := redisClient(t)
	ratelimittest.TestFailures(t, func(t *testing.T, now func() time.Time, b ratelimit.Backoff) ratelimit.Failures {
		f, err := ratelimit.NewRedisFailures(c, testPrefix(t, c), b, ratelimit.WithClock(now))
		if err != nil {
			t.Fatalf("NewRedisFailures(%+v): %v", b, err)
		}
		return f
	})
}

// Two server instances, each with its own connection pool, share one limit
// through Redis, with Redis's clock (no WithClock), as in production.
func TestRedisLimiterSharedByInstances(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	a := ratelimit.NewRedisLimiter(c, prefix)
	b := ratelimit.NewRedisLimiter(secondClient(t, c), prefix)
	lim := ratelimit.Limit{Rate: 10, Period: time.Hour, Burst: 10}

	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed = map[string]int{}
	)
	for i := range 40 {
		inst, name := a, "a"
		if i%2 == 1 {
			inst, name = b, "b"
		}
		wg.Go(func() {
			res, err := inst.Allow(ctx, "login:ip:192.0.2.7", lim)
			if err != nil {
				t.Errorf("instance %s: Allow: %v", name, err)
				return
			}
			if res.Allowed {
				mu.Lock()
				allowed[name]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total := allowed["a"] + allowed["b"]; total != 10 {
		t.Fatalf("allowed across two instances = %d (a %d, b %d), want the burst of 10", total, allowed["a"], allowed["b"])
	}
	res, err := b.Peek(ctx, "login:ip:192.0.2.7", lim)
	if err != nil {
		t.Fatal(err)
	}
	// Redis's clock moves between calls, so the wait is a little under the
	// 6-minute interval.
	if res.Allowed || res.RetryAfter <= 5*time.Minute || res.RetryAfter > 6*time.Minute {
		t.Fatalf("Peek on instance b = %+v, want refused with RetryAfter just under 6m", res)
	}
	if err := a.Reset(ctx, "login:ip:192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Allow(ctx, "login:ip:192.0.2.7", lim); err != nil || !res.Allowed {
		t.Fatalf("Allow on b after Reset on a = %+v, %v; want allowed", res, err)
	}
}

func TestRedisFailuresSharedByInstances(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	clientB := secondClient(t, c)
	b := ratelimit.DefaultBackoff()
	fa, err := ratelimit.NewRedisFailures(c, prefix, b)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := ratelimit.NewRedisFailures(clientB, prefix, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const key = "login:account:alice@example.com"
	for i := range b.Threshold {
		inst := fa
		if i%2 == 1 {
			inst = fb
		}
		if d, err := inst.Attempt(ctx, key); err != nil || d != 0 {
			t.Fatalf("Attempt #%d = %v, %v; want 0", i+1, d, err)
		}
	}
	for _, inst := range []*ratelimit.RedisFailures{fa, fb} {
		if d, err := inst.Attempt(ctx, key); err != nil || d <= 0 || d > b.Base {
			t.Fatalf("Attempt past the threshold = %v, %v; want throttled for up to %v", d, err, b.Base)
		}
	}
	if err := fb.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if d, err := fa.Check(ctx, key); err != nil || d != 0 {
		t.Fatalf("Check on a after Reset on b = %v, %v; want 0", d, err)
	}
}

// Keys in Redis carry the prefix and expire: the limiter never leaves
// immortal keys behind.
func TestRedisKeysExpire(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	ctx := t.Context()
	l := ratelimit.NewRedisLimiter(c, prefix)
	f, err := ratelimit.NewRedisFailures(c, prefix, ratelimit.DefaultBackoff())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(ctx, "k", ratelimit.PerMinute(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fail(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys under %s = %q, want 2", prefix, keys)
	}
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 24*time.Hour+2*time.Second {
			t.Errorf("PTTL(%s) = %v, want a positive expiry of at most a day", k, ttl)
		}
	}
}

// A canceled context is an error from the Redis implementations (the Fallback
// turns it into local limits).
func TestRedisCanceledContext(t *testing.T) {
	c := redisClient(t)
	l := ratelimit.NewRedisLimiter(c, testPrefix(t, c))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Allow(ctx, "k", ratelimit.PerMinute(1)); err == nil {
		t.Fatal("Allow with a canceled context: err = nil, want an error")
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	c := redisClient(b)
	l := ratelimit.NewRedisLimiter(c, testPrefix(b, c))
	ctx := b.Context()
	// Generous enough never to refuse, slow enough that state stays live.
	lim := ratelimit.Limit{Rate: 1_000_000, Period: time.Hour}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:ip:192.0.2.%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, keys[i%len(keys)], lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestNewRedis(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	reg := prometheus.NewRegistry()
	limits, err := ratelimit.New(ratelimit.Config{Redis: c, Prefix: prefix, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if limits.Fallback == nil || !limits.Fallback.Available() {
		t.Fatal("New with Redis: no Fallback, or it reports Redis unavailable")
	}
	ctx := t.Context()
	if _, err := limits.Limiter.Allow(ctx, "k", ratelimit.PerMinute(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := limits.Failures.Fail(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Keys(ctx, prefix+"*").Result(); err != nil || len(n) != 2 {
		t.Fatalf("keys under the prefix = %q, %v; want 2", n, err)
	}
}
