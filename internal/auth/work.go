package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// workLimiter bounds the expensive part of a request (opening a sealed
// password and bcrypt) to a number of workers sized to the cores, with a short
// bounded queue. Under overload the excess gets a fast 503 instead of piling
// up goroutines, memory and latency for everything else the server does.
type workLimiter struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	maxWait    time.Duration
}

func newWorkLimiter(workers, queue int) *workLimiter {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if queue <= 0 {
		// Room for a steady 16 concurrent logins on 2 cores: each waits for at
		// most 7 bcrypt compares ahead of it, about 2 s at cost 12.
		queue = 8 * workers
	}
	return &workLimiter{slots: make(chan struct{}, workers), maxWaiting: int64(queue), maxWait: 5 * time.Second}
}

var errBusy = &Error{Code: CodeServiceUnavailable, Detail: "The server is busy; try again shortly.", RetryAfter: time.Second}

// acquire takes a worker slot, waiting in the queue for at most maxWait.
func (l *workLimiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	default:
	}
	if l.waiting.Add(1) > l.maxWaiting {
		l.waiting.Add(-1)
		return nil, errBusy
	}
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, errBusy
	}
}

func (l *workLimiter) release() { <-l.slots }

// full reports whether a new request would be refused at once: every worker
// busy and the queue full.
func (l *workLimiter) full() bool {
	return len(l.slots) == cap(l.slots) && l.waiting.Load() >= l.maxWaiting
}
