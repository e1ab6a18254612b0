package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWorkLimiter(t *testing.T) {
	l := newWorkLimiter(2, 1)
	l.maxWait = 200 * time.Millisecond
	ctx := context.Background()
	r1, err1 := l.acquire(ctx)
	r2, err2 := l.acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("acquire with free workers: %v, %v", err1, err2)
	}
	// One may wait: it gets the slot released while it waits.
	got := make(chan error, 1)
	go func() {
		r, err := l.acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	for l.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	// The queue is full: the next is refused at once.
	start := time.Now()
	if _, err := l.acquire(ctx); !errors.Is(err, errBusy) {
		t.Errorf("acquire with a full queue: err = %v, want errBusy", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Logf("refusal took %v", d) // informational: a refusal must not wait for a slot
	}
	r1()
	if err := <-got; err != nil {
		t.Errorf("queued acquire: err = %v, want a slot", err)
	}
	// A waiter gives up after maxWait.
	r3, err := l.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.acquire(ctx); !errors.Is(err, errBusy) {
		t.Errorf("acquire past maxWait: err = %v, want errBusy", err)
	}
	r2()
	r3()
	if ErrorCode(errBusy) != CodeServiceUnavailable || errBusy.RetryAfter <= 0 {
		t.Errorf("errBusy = %+v, want 503 with Retry-After", errBusy)
	}
}
