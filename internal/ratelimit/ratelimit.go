// Package ratelimit limits how often a client may do something, in memory or
// shared by every server instance through Redis.
//
// Two mechanisms cover the server's needs. A [Limiter] applies a rate with a
// burst to a key (a client IP, a route) using GCRA, the generic cell rate
// algorithm: it keeps one timestamp per key, refills continuously rather than
// in fixed windows, and needs one atomic read-modify-write, which Redis runs as
// one Lua script in one round trip. [Failures] counts consecutive failures of
// a key (an account) and, past a threshold, imposes delays that double up to a
// cap: throttling that slows online guessing to a crawl without ever becoming
// a permanent lock.
//
// [MemoryLimiter] and [MemoryFailures] keep their state in a bounded table in
// the process; [RedisLimiter] and [RedisFailures] keep it in Redis; a
// [Fallback] puts the Redis ones first and the memory ones behind them, so
// that an outage of Redis degrades the limits to per-instance ones instead of
// failing requests. All of them pass the suites in package ratelimittest.
// [New] builds the right combination from a [Config], and [SetHeaders]
// writes the outcome of a check as Retry-After and the IETF RateLimit fields.
//
// Keys are digested (SHA-256) before they are stored, so that an attacker who
// sends a megabyte of e-mail address does not make a megabyte key, and so that
// Redis holds no addresses in the clear.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidLimit is returned for a [Limit] or [Backoff] that cannot be
// enforced, such as a negative rate. It is a programming or configuration
// error, so validate limits when the configuration is loaded and this error
// never reaches a request.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Limit is a rate with a burst: Rate requests per Period on average, of which
// up to Burst may arrive at once. Requests are refilled one at a time, every
// Period/Rate, not all at once at the end of a window.
//
// The zero Limit means no limit: every request is allowed and no state is
// kept, so a limit that configuration switched off needs no special case.
type Limit struct {
	Rate   int           // requests per Period, on average
	Period time.Duration // the time over which Rate requests are allowed
	Burst  int           // requests allowed at once; zero means Rate
}

// The bounds keep every quantity of the algorithm an integer below 2^53 µs,
// which Redis's Lua (whose numbers are doubles) computes exactly.
const (
	maxRateOrBurst = 1_000_000
	maxSpanMicros  = 1 << 50 // about 35 years
)

// PerMinute returns the Limit of n requests a minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// PerHour returns the Limit of n requests an hour with a burst of n.
func PerHour(n int) Limit { return Limit{Rate: n, Period: time.Hour} }

// IsZero reports whether l is the zero Limit, which means no limit.
func (l Limit) IsZero() bool { return l == Limit{} }

// burst is Burst with its default applied.
func (l Limit) burst() int64 {
	if l.Burst == 0 {
		return int64(l.Rate)
	}
	return int64(l.Burst)
}

// interval is the emission interval in microseconds: the time in which one
// request is refilled. Microseconds, rather than nanoseconds, because the
// Redis script computes with them and both implementations must agree.
// It is zero for a Limit without a rate, which Validate refuses.
func (l Limit) interval() int64 {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period.Microseconds() / int64(l.Rate)
}

// Validate reports whether l can be enforced. The zero Limit is valid.
func (l Limit) Validate() error {
	if l.IsZero() {
		return nil
	}
	switch {
	case l.Rate <= 0 || l.Rate > maxRateOrBurst:
		return fmt.Errorf("%w: rate %d is not between 1 and %d", ErrInvalidLimit, l.Rate, maxRateOrBurst)
	case l.Burst < 0 || l.Burst > maxRateOrBurst:
		return fmt.Errorf("%w: burst %d is not between 0 (meaning the rate) and %d", ErrInvalidLimit, l.Burst, maxRateOrBurst)
	case l.Period <= 0:
		return fmt.Errorf("%w: period %v is not positive", ErrInvalidLimit, l.Period)
	case l.interval() < 1:
		return fmt.Errorf("%w: %d per %v is more than one request a microsecond", ErrInvalidLimit, l.Rate, l.Period)
	case l.interval() > maxSpanMicros/l.burst():
		return fmt.Errorf("%w: %d per %v with burst %d spans too long a time", ErrInvalidLimit, l.Rate, l.Period, l.burst())
	}
	return nil
}

// String formats l the way [ParseLimit] reads it, such as "10/1m0s" or
// "10/1h0m0s;burst=3", and the zero Limit as "off".
func (l Limit) String() string {
	if l.IsZero() {
		return "off"
	}
	s := strconv.Itoa(l.Rate) + "/" + l.Period.String()
	if l.Burst != 0 && l.Burst != l.Rate {
		s += ";burst=" + strconv.Itoa(l.Burst)
	}
	return s
}

// ParseLimit reads a Limit from configuration: "RATE/PERIOD" with an optional
// ";burst=N", where PERIOD is a Go duration ("1m", "90s") or a bare unit
// ("s", "m", "h" for one of them). "10/m" is ten a minute with a burst of ten;
// "100/1h;burst=20" is a hundred an hour, at most twenty at once. "off" (or
// "0") is the zero Limit: no limit.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Limit{}, nil
	}
	spec, burstPart, hasBurst := strings.Cut(s, ";")
	rateText, periodText, ok := strings.Cut(spec, "/")
	if !ok {
		return Limit{}, fmt.Errorf("rate limit %q: want RATE/PERIOD such as 10/1m, or off", s)
	}
	rate, err := strconv.Atoi(strings.TrimSpace(rateText))
	if err != nil {
		return Limit{}, fmt.Errorf("rate limit %q: rate %q is not a whole number", s, rateText)
	}
	periodText = strings.TrimSpace(periodText)
	var period time.Duration
	switch periodText {
	case "s":
		period = time.Second
	case "m":
		period = time.Minute
	case "h":
		period = time.Hour
	default:
		if period, err = time.ParseDuration(periodText); err != nil {
			return Limit{}, fmt.Errorf("rate limit %q: period %q is not a duration such as 1m or 30s", s, periodText)
		}
	}
	l := Limit{Rate: rate, Period: period}
	if hasBurst {
		name, value, ok := strings.Cut(strings.TrimSpace(burstPart), "=")
		if !ok || strings.TrimSpace(name) != "burst" {
			return Limit{}, fmt.Errorf("rate limit %q: want ;burst=N after the rate", s)
		}
		if l.Burst, err = strconv.Atoi(strings.TrimSpace(value)); err != nil || l.Burst < 1 {
			return Limit{}, fmt.Errorf("rate limit %q: burst %q is not a positive whole number", s, value)
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	return l, nil
}

// Result is the outcome of one check of a [Limit]: whether the request may go
// ahead, and what to tell the client in Retry-After and the RateLimit header
// fields (see [SetHeaders]).
type Result struct {
	Limit   Limit // the limit that was checked
	Allowed bool
	// Remaining is how many more requests would be allowed right now, after
	// this one.
	Remaining int
	// RetryAfter is how long to wait before a request will be allowed; zero
	// when this one was.
	RetryAfter time.Duration
	// ResetAfter is how long until the full burst is available again.
	ResetAfter time.Duration
}

// nextAfter is how long until Remaining grows by one, zero if nothing is being
// refilled. It is what the RateLimit field's "t" parameter reports: within it
// the client can make no more than Remaining requests, which is the field's
// definition.
func (r Result) nextAfter() time.Duration {
	if !r.Allowed {
		return r.RetryAfter
	}
	iv := time.Duration(r.Limit.interval()) * time.Microsecond
	if iv <= 0 || r.ResetAfter <= 0 {
		return 0
	}
	if rem := r.ResetAfter % iv; rem != 0 {
		return rem
	}
	return iv
}

// Limiter applies a [Limit] to keys. A key names what is limited, including
// the policy, such as "login:ip:192.0.2.1": two limits must not share a key.
//
// Implementations are safe for concurrent use, and Allow is atomic: of many
// concurrent calls on one key, exactly as many are allowed as the burst holds.
type Limiter interface {
	// Allow consumes one request from key's allowance if the limit permits it.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
	// Peek reports what Allow would answer now, without consuming anything.
	// Its Remaining counts this request as not yet made.
	Peek(ctx context.Context, key string, l Limit) (Result, error)
	// Reset forgets key, giving it its full burst again.
	Reset(ctx context.Context, key string) error
}

// Failures throttles a key, typically an account, after consecutive failures,
// with delays that grow by a [Backoff]. A success resets the key.
//
// Implementations are safe for concurrent use.
type Failures interface {
	// Check reports how long key is still throttled, zero if it is not. It
	// records nothing.
	Check(ctx context.Context, key string) (time.Duration, error)
	// Attempt is Check and Fail in one atomic step: if key is throttled it
	// records nothing and reports the wait; otherwise it counts the attempt as
	// a failure in advance and reports zero. Call Reset when the attempt
	// succeeds. Counting in advance is what stops a burst of concurrent
	// guesses from all passing the check before any of them has failed.
	Attempt(ctx context.Context, key string) (time.Duration, error)
	// Fail counts one failure and reports the throttle it now imposes, zero
	// below the threshold.
	Fail(ctx context.Context, key string) (time.Duration, error)
	// Reset forgets key's failures, as after a successful login.
	Reset(ctx context.Context, key string) error
}

// digest is what a key is stored under: fixed-size, whatever the caller passed.
type digest [16]byte

func digestKey(key string) digest {
	sum := sha256.Sum256([]byte(key))
	return digest(sum[:16])
}
