package ratelimit

import (
	"math"
	"time"
)

// gcra decides one request under l at now, given the key's theoretical arrival
// time tat (zero for a key with no state), all in microseconds. It returns the
// result and the TAT to store, zero when nothing changes (a refusal or a
// peek).
//
// The TAT is the time at which the key would be back to a full burst if it made
// no more requests. Each request pushes it one emission interval later; a
// request is allowed while that would leave the TAT no further than the burst's
// worth of intervals ahead of now. The Redis script is a transcription of this
// function: change both together, and the conformance suite checks they agree.
func gcra(l Limit, now, tat int64, peek bool) (Result, int64) {
	interval := l.interval()
	tau := interval * l.burst()
	if tat < now {
		tat = now
	}
	newTAT := tat + interval
	allowAt := newTAT - tau
	if now < allowAt {
		return Result{Limit: l, RetryAfter: micros(allowAt - now), ResetAfter: micros(tat - now)}, 0
	}
	if peek {
		return Result{Limit: l, Allowed: true, Remaining: int((tau - (tat - now)) / interval), ResetAfter: micros(tat - now)}, 0
	}
	return Result{Limit: l, Allowed: true, Remaining: int((tau - (newTAT - now)) / interval), ResetAfter: micros(newTAT - now)}, newTAT
}

func micros(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

// unlimited is the Result for the zero Limit: allowed, with no end of
// remaining requests.
func unlimited() Result { return Result{Allowed: true, Remaining: math.MaxInt} }
