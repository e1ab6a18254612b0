package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/sealauth/sealauth/internal/clientip"
	"github.com/sealauth/sealauth/internal/ratelimit"
)

// A login handler checks the client's address first, then the account, and
// only then does any bcrypt or RSA work.
func Example_login() {
	ctx := context.Background()
	// With Config.Redis set, the same calls share the limits between
	// instances and fall back to memory when Redis is down.
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		panic(err)
	}
	loginPerIP := ratelimit.PerMinute(10)

	login := func(ip netip.Addr, email string, passwordOK bool) (status int, h http.Header) {
		h = http.Header{}
		res, err := limits.Limiter.Allow(ctx, "login:ip:"+clientip.Subnet(ip).String(), loginPerIP)
		if err != nil {
			return http.StatusInternalServerError, h // only for an invalid limit
		}
		ratelimit.SetHeaders(h, "login", res)
		if !res.Allowed {
			return http.StatusTooManyRequests, h
		}
		// Attempt counts the attempt as a failure until it succeeds, so
		// concurrent guesses cannot all slip past the check.
		key := "login:account:" + email // normalised
		if wait, _ := limits.Failures.Attempt(ctx, key); wait > 0 {
			ratelimit.SetRetryAfter(h, wait)
			return http.StatusTooManyRequests, h
		}
		if !passwordOK { // open the sealed password, compare with bcrypt
			return http.StatusUnauthorized, h
		}
		_ = limits.Failures.Reset(ctx, key)
		return http.StatusOK, h
	}

	ip := netip.MustParseAddr("2001:db8:1:2::7")
	status, h := login(ip, "alice@example.com", true)
	fmt.Println(status, h.Get("RateLimit"), h.Get("RateLimit-Policy"))
	for range 9 {
		login(ip, "alice@example.com", false)
	}
	// Another address in the same /64 shares the limit.
	status, h = login(netip.MustParseAddr("2001:db8:1:2::8"), "alice@example.com", true)
	fmt.Println(status, h.Get("RateLimit"), h.Get("Retry-After"))
	// Output:
	// 200 "login";r=9;t=6 "login";q=10;w=60
	// 429 "login";r=0;t=6 6
}

// Failures alone: ten failures are free, then the delays double.
func ExampleFailures() {
	ctx := context.Background()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	f, err := ratelimit.NewMemoryFailures(ratelimit.DefaultBackoff(), ratelimit.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 13; i++ {
		d, _ := f.Fail(ctx, "login:account:bob@example.com")
		if d > 0 {
			fmt.Printf("failure %d: throttled for %v\n", i, d)
		}
	}
	// Output:
	// failure 10: throttled for 1s
	// failure 11: throttled for 2s
	// failure 12: throttled for 4s
	// failure 13: throttled for 8s
}
