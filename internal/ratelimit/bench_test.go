package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/ratelimit"
)

func BenchmarkMemoryAllow(b *testing.B) {
	l := ratelimit.NewMemoryLimiter()
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

// New keys all the time, as from an attacker rotating addresses, with the
// table full so that every call evicts.
func BenchmarkMemoryAllowNewKeys(b *testing.B) {
	l := ratelimit.NewMemoryLimiter(ratelimit.WithMaxKeys(10_000))
	ctx := b.Context()
	lim := ratelimit.PerMinute(10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, fmt.Sprintf("ip:%d", i), lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMemoryFailuresAttempt(b *testing.B) {
	f, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff())
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Attempt(ctx, "login:account:alice@example.com"); err != nil {
			b.Fatal(err)
		}
		if err := f.Reset(ctx, "login:account:alice@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
