package ratelimit

import (
	"fmt"
	"math"
	"time"
)

// Backoff is the throttling policy of [Failures]: after Threshold consecutive
// failures a key is throttled for Base, and each further failure doubles the
// delay up to Max. Failures are forgotten ForgetAfter after the throttle of
// the last one ends, so that an old run of typos does not throttle next week's
// first one.
type Backoff struct {
	Threshold   int           // failures allowed before the first delay
	Base        time.Duration // the first delay
	Max         time.Duration // the delay never grows past it
	ForgetAfter time.Duration // failures are forgotten after this quiet time
}

// DefaultBackoff is the policy for login: ten failures free, then 1 s
// doubling to at most 15 minutes, forgotten after a quiet day. An attacker
// then gets about a hundred guesses a day at one account, while a user who
// mistyped never waits more than 15 minutes.
func DefaultBackoff() Backoff {
	return Backoff{Threshold: 10, Base: time.Second, Max: 15 * time.Minute, ForgetAfter: 24 * time.Hour}
}

// Validate reports whether b can be enforced.
func (b Backoff) Validate() error {
	switch {
	case b.Threshold < 1 || b.Threshold > maxRateOrBurst:
		return fmt.Errorf("%w: backoff threshold %d is not between 1 and %d", ErrInvalidLimit, b.Threshold, maxRateOrBurst)
	case b.Base < time.Millisecond:
		return fmt.Errorf("%w: backoff base %v is less than 1ms", ErrInvalidLimit, b.Base)
	case b.Max < b.Base:
		return fmt.Errorf("%w: backoff max %v is less than base %v", ErrInvalidLimit, b.Max, b.Base)
	case b.ForgetAfter < 0:
		return fmt.Errorf("%w: backoff forget-after %v is negative", ErrInvalidLimit, b.ForgetAfter)
	case b.Max.Microseconds()+b.ForgetAfter.Microseconds() > maxSpanMicros:
		return fmt.Errorf("%w: backoff max plus forget-after is too long", ErrInvalidLimit)
	}
	return nil
}

// Delay is the throttle that n consecutive failures impose.
func (b Backoff) Delay(n int) time.Duration {
	return time.Duration(b.delayMicros(int64(n))) * time.Microsecond
}

// delayMicros is Delay in microseconds, computed exactly as the Redis script
// computes it.
func (b Backoff) delayMicros(n int64) int64 {
	if n < int64(b.Threshold) {
		return 0
	}
	base, maxDelay := b.Base.Microseconds(), b.Max.Microseconds()
	exp := n - int64(b.Threshold)
	if exp >= 62 || float64(base)*math.Exp2(float64(exp)) >= float64(maxDelay) {
		return maxDelay
	}
	return base << exp
}

// failState is what [Failures] keeps per key: the number of consecutive
// failures and the time of the last, in microseconds.
type failState struct {
	n, last int64
}

type failMode int

const (
	modeCheck failMode = iota
	modeAttempt
	modeFail
)

// step applies one operation to st at now and returns the new state, whether
// it must be stored, and the answer in microseconds: the wait for Check and a
// refused Attempt, the delay now imposed for Fail. The Redis script is a
// transcription of this function: change both together.
func (b Backoff) step(st failState, now int64, mode failMode) (failState, bool, int64) {
	if st.n > 0 && now >= b.expiry(st) {
		st = failState{}
	}
	var wait int64
	if st.n > 0 {
		wait = max(0, st.last+b.delayMicros(st.n)-now)
	}
	if mode == modeCheck || (mode == modeAttempt && wait > 0) {
		return st, false, wait
	}
	st.n++
	st.last = now
	if mode == modeAttempt {
		return st, true, 0
	}
	return st, true, b.delayMicros(st.n)
}

// expiry is when st is forgotten.
func (b Backoff) expiry(st failState) int64 {
	return st.last + b.delayMicros(st.n) + b.ForgetAfter.Microseconds()
}
