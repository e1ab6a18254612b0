package ratelimit

import (
	"context"
	"time"
)

// Option configures a limiter or failure counter when it is made.
type Option func(*options)

type options struct {
	now     func() time.Time
	maxKeys int
}

// WithClock makes the limiter read the time from now instead of the system
// clock, so that tests control it. For the Redis implementations it also
// means the time is sent with each call instead of read from Redis (see
// [NewRedisLimiter]).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxKeys bounds how many keys a memory implementation remembers (default
// [DefaultMaxKeys]); the least recently used are forgotten first. The Redis
// implementations ignore it: Redis's own memory policy applies there.
func WithMaxKeys(n int) Option { return func(o *options) { o.maxKeys = n } }

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// MemoryLimiter is a [Limiter] whose state lives in this process, within a
// bounded number of keys.
type MemoryLimiter struct {
	now   func() time.Time
	table *table[int64] // key → TAT in µs
}

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter(opts ...Option) *MemoryLimiter {
	o := buildOptions(opts)
	if o.now == nil {
		o.now = time.Now
	}
	return &MemoryLimiter{now: o.now, table: newTable[int64](o.maxKeys)}
}

// Allow implements [Limiter].
func (m *MemoryLimiter) Allow(_ context.Context, key string, l Limit) (Result, error) {
	return m.check(key, l, false)
}

// Peek implements [Limiter].
func (m *MemoryLimiter) Peek(_ context.Context, key string, l Limit) (Result, error) {
	return m.check(key, l, true)
}

func (m *MemoryLimiter) check(key string, l Limit, peek bool) (Result, error) {
	if l.IsZero() {
		return unlimited(), nil
	}
	if err := l.Validate(); err != nil {
		return Result{}, err
	}
	d := digestKey(key)
	now := m.now().UnixMicro()
	s := m.table.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	var tat int64
	e := s.lookup(d, now)
	if e != nil {
		tat = e.val
	}
	res, newTAT := gcra(l, now, tat, peek)
	if newTAT != 0 {
		if e == nil {
			e = s.insert(d, now)
		}
		// The state is worthless once the TAT has passed: an absent key
		// means a full burst too.
		e.val, e.expires = newTAT, newTAT
	}
	return res, nil
}

// Reset implements [Limiter].
func (m *MemoryLimiter) Reset(_ context.Context, key string) error {
	m.table.remove(key)
	return nil
}

// Len returns how many keys m holds, some perhaps expired; for tests and
// metrics.
func (m *MemoryLimiter) Len() int { return m.table.len() }

// MemoryFailures is a [Failures] whose state lives in this process, within a
// bounded number of keys.
type MemoryFailures struct {
	backoff Backoff
	now     func() time.Time
	table   *table[failState]
}

// NewMemoryFailures returns an empty MemoryFailures that throttles by b. It
// fails only if b is invalid.
func NewMemoryFailures(b Backoff, opts ...Option) (*MemoryFailures, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	if o.now == nil {
		o.now = time.Now
	}
	return &MemoryFailures{backoff: b, now: o.now, table: newTable[failState](o.maxKeys)}, nil
}

// Check implements [Failures].
func (m *MemoryFailures) Check(_ context.Context, key string) (time.Duration, error) {
	return m.step(key, modeCheck), nil
}

// Attempt implements [Failures].
func (m *MemoryFailures) Attempt(_ context.Context, key string) (time.Duration, error) {
	return m.step(key, modeAttempt), nil
}

// Fail implements [Failures].
func (m *MemoryFailures) Fail(_ context.Context, key string) (time.Duration, error) {
	return m.step(key, modeFail), nil
}

func (m *MemoryFailures) step(key string, mode failMode) time.Duration {
	d := digestKey(key)
	now := m.now().UnixMicro()
	s := m.table.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	var st failState
	e := s.lookup(d, now)
	if e != nil {
		st = e.val
	}
	st, changed, answer := m.backoff.step(st, now, mode)
	if changed {
		if e == nil {
			e = s.insert(d, now)
		}
		e.val, e.expires = st, m.backoff.expiry(st)
	}
	return micros(answer)
}

// Reset implements [Failures].
func (m *MemoryFailures) Reset(_ context.Context, key string) error {
	m.table.remove(key)
	return nil
}

// Len returns how many keys m holds, some perhaps expired; for tests and
// metrics.
func (m *MemoryFailures) Len() int { return m.table.len() }
