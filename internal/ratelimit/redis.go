package ratelimit

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClient is what the Redis implementations need of a go-redis client;
// *redis.Client, *redis.ClusterClient and *redis.Ring all have it. Each call
// touches a single key, so a cluster works without hash tags.
//
// Create the client with ContextTimeoutEnabled so that the deadlines of a
// [Fallback] reach the socket; the Fallback bounds each call even without it,
// but the call then keeps a connection busy until the client's own timeout.
type RedisClient interface {
	redis.Scripter
	Del(ctx context.Context, keys ...string) *redis.IntCmd
}

// gcraScript is gcra (gcra.go) in Lua, run atomically by Redis. Times are
// integers of microseconds, exact in Lua's doubles below 2^53; numbers sent
// back to Redis go through string.format('%d') because Redis would otherwise
// format large ones in exponent notation.
//
// KEYS[1] the key. ARGV: now (µs, or "" to use Redis's clock), the emission
// interval (µs), the burst, "1" to peek. Returns {allowed, remaining, retry
// after, reset after}, the durations in µs.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
local tau = interval * tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tau
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
if ARGV[4] == '1' then
  return {1, math.floor((tau - (tat - now)) / interval), 0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', math.ceil((new_tat - now) / 1000)))
return {1, math.floor((tau - (new_tat - now)) / interval), 0, new_tat - now}
`)

// failuresScript is Backoff.step and Backoff.delayMicros (failures.go) in Lua,
// with the state in a hash of n (failures) and last (µs). The key expires when
// the state would be forgotten anyway.
//
// KEYS[1] the key. ARGV: mode ("check", "attempt" or "fail"), now (µs, or ""
// to use Redis's clock), threshold, base (µs), max (µs), forget after (µs).
// Returns the answer in µs.
var failuresScript = redis.NewScript(`
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local threshold = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local forget = tonumber(ARGV[6])
local function delay(n)
  if n < threshold then
    return 0
  end
  local exp = n - threshold
  if exp >= 62 or base * 2 ^ exp >= max then
    return max
  end
  return base * 2 ^ exp
end
local state = redis.call('HMGET', KEYS[1], 'n', 'last')
local n = tonumber(state[1]) or 0
local last = tonumber(state[2]) or 0
if n > 0 and now >= last + delay(n) + forget then
  n = 0
end
local wait = 0
if n > 0 then
  wait = math.max(0, last + delay(n) - now)
end
if ARGV[1] == 'check' or (ARGV[1] == 'attempt' and wait > 0) then
  return wait
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', string.format('%d', n), 'last', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil((delay(n) + forget) / 1000) + 1))
if ARGV[1] == 'attempt' then
  return 0
end
return delay(n)
`)

// RedisLimiter is a [Limiter] whose state lives in Redis, shared by every
// server instance that uses the same Redis and prefix. Each call is one round
// trip (EVALSHA of one Lua script).
type RedisLimiter struct {
	client RedisClient
	prefix string
	now    func() time.Time
}

// NewRedisLimiter returns a RedisLimiter that stores its keys in client under
// prefix, such as "sealauth:rl:". Keys are prefix, "l:" and the key's digest.
//
// Time comes from the Redis server (its TIME command, which scripts may call
// before writing since Redis 5), so every instance agrees whatever its own
// clock says. With [WithClock] the time comes from the
// caller instead, which is how tests control it; instances whose clocks
// disagree by d then grant or refuse up to d's worth of refills differently.
func NewRedisLimiter(client RedisClient, prefix string, opts ...Option) *RedisLimiter {
	o := buildOptions(opts)
	return &RedisLimiter{client: client, prefix: prefix, now: o.now}
}

// Allow implements [Limiter].
func (r *RedisLimiter) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return r.check(ctx, key, l, "0")
}

// Peek implements [Limiter].
func (r *RedisLimiter) Peek(ctx context.Context, key string, l Limit) (Result, error) {
	return r.check(ctx, key, l, "1")
}

func (r *RedisLimiter) check(ctx context.Context, key string, l Limit, peek string) (Result, error) {
	if l.IsZero() {
		return unlimited(), nil
	}
	if err := l.Validate(); err != nil {
		return Result{}, err
	}
	v, err := gcraScript.Run(ctx, r.client, []string{r.key(key)},
		nowArg(r.now), strconv.FormatInt(l.interval(), 10), strconv.FormatInt(l.burst(), 10), peek).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 4 {
		return Result{}, fmt.Errorf("ratelimit: redis: script returned %d values, want 4", len(v))
	}
	return Result{Limit: l, Allowed: v[0] == 1, Remaining: int(v[1]), RetryAfter: micros(v[2]), ResetAfter: micros(v[3])}, nil
}

// Reset implements [Limiter].
func (r *RedisLimiter) Reset(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

func (r *RedisLimiter) key(key string) string { return redisKey(r.prefix, "l:", key) }

// RedisFailures is a [Failures] whose state lives in Redis, shared by every
// server instance that uses the same Redis and prefix: one hash per key with
// the count and the time of the last failure, expiring when it would be
// forgotten. Each call is one round trip.
type RedisFailures struct {
	client  RedisClient
	prefix  string
	now     func() time.Time
	backoff Backoff
	args    [4]string // the backoff's script arguments, formatted once
}

// NewRedisFailures returns a RedisFailures that throttles by b and stores its
// keys in client under prefix. Keys are prefix, "f:" and the key's digest.
// Time comes from Redis unless [WithClock] is given, as for
// [NewRedisLimiter]. It fails only if b is invalid.
func NewRedisFailures(client RedisClient, prefix string, b Backoff, opts ...Option) (*RedisFailures, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return &RedisFailures{
		client: client, prefix: prefix, now: o.now, backoff: b,
		args: [4]string{
			strconv.Itoa(b.Threshold),
			strconv.FormatInt(b.Base.Microseconds(), 10),
			strconv.FormatInt(b.Max.Microseconds(), 10),
			strconv.FormatInt(b.ForgetAfter.Microseconds(), 10),
		},
	}, nil
}

// Check implements [Failures].
func (r *RedisFailures) Check(ctx context.Context, key string) (time.Duration, error) {
	return r.run(ctx, key, "check")
}

// Attempt implements [Failures].
func (r *RedisFailures) Attempt(ctx context.Context, key string) (time.Duration, error) {
	return r.run(ctx, key, "attempt")
}

// Fail implements [Failures].
func (r *RedisFailures) Fail(ctx context.Context, key string) (time.Duration, error) {
	return r.run(ctx, key, "fail")
}

func (r *RedisFailures) run(ctx context.Context, key, mode string) (time.Duration, error) {
	v, err := failuresScript.Run(ctx, r.client, []string{r.key(key)},
		mode, nowArg(r.now), r.args[0], r.args[1], r.args[2], r.args[3]).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return micros(v), nil
}

// Reset implements [Failures].
func (r *RedisFailures) Reset(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

func (r *RedisFailures) key(key string) string { return redisKey(r.prefix, "f:", key) }

// nowArg is the script's "now" argument: the caller's clock in µs, or empty
// for Redis's.
func nowArg(now func() time.Time) string {
	if now == nil {
		return ""
	}
	return strconv.FormatInt(now().UnixMicro(), 10)
}

func redisKey(prefix, kind, key string) string {
	d := digestKey(key)
	return prefix + kind + base64.RawURLEncoding.EncodeToString(d[:])
}
