package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/ratelimit"
	"github.com/sealauth/sealauth/internal/ratelimit/ratelimittest"
)

func TestSetHeaders(t *testing.T) {
	ctx := t.Context()
	clock := ratelimittest.NewClock(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))
	l := ratelimit.NewMemoryLimiter(ratelimit.WithClock(clock.Now))
	lim := ratelimit.PerMinute(10)

	res, _ := l.Allow(ctx, "k", lim)
	h := http.Header{}
	ratelimit.SetHeaders(h, "login", res)
	want := http.Header{
		"Ratelimit-Policy": {`"login";q=10;w=60`},
		"Ratelimit":        {`"login";r=9;t=6`},
	}
	checkHeaders(t, "after one request", h, want)

	for range 4 {
		if _, err := l.Allow(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2500 * time.Millisecond)
	res, _ = l.Allow(ctx, "k", lim) // 6 used, 0.4 refilled
	h = http.Header{}
	ratelimit.SetHeaders(h, "login", res)
	// The next request returns 3.5 s from now: t rounds up to 4.
	checkHeaders(t, "after six requests", h, http.Header{
		"Ratelimit-Policy": {`"login";q=10;w=60`},
		"Ratelimit":        {`"login";r=4;t=4`},
	})

	for range 4 {
		if _, err := l.Allow(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
	}
	res, _ = l.Allow(ctx, "k", lim)
	if res.Allowed {
		t.Fatalf("Allow #11 = %+v, want refused", res)
	}
	h = http.Header{}
	ratelimit.SetHeaders(h, "login", res)
	checkHeaders(t, "refused", h, http.Header{
		"Ratelimit-Policy": {`"login";q=10;w=60`},
		"Ratelimit":        {`"login";r=0;t=4`},
		"Retry-After":      {"4"},
	})
}

func TestSetHeadersSeveralPolicies(t *testing.T) {
	h := http.Header{}
	ip := ratelimit.Result{Limit: ratelimit.PerMinute(10), Allowed: false, RetryAfter: 5 * time.Second, ResetAfter: time.Minute}
	acct := ratelimit.Result{Limit: ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 5}, Allowed: false, RetryAfter: 1500 * time.Millisecond, ResetAfter: 30 * time.Second}
	ratelimit.SetHeaders(h, "login-ip", ip)
	ratelimit.SetHeaders(h, "login-account", acct)
	ratelimit.SetHeaders(h, "off", ratelimit.Result{Allowed: true})
	checkHeaders(t, "two policies", h, http.Header{
		"Ratelimit-Policy": {`"login-ip";q=10;w=60`, `"login-account";q=5;w=30`},
		"Ratelimit":        {`"login-ip";r=0;t=5`, `"login-account";r=0;t=2`},
		"Retry-After":      {"5"}, // the longer wait wins
	})
}

func TestSetRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  string
		d    time.Duration
		want string
	}{
		{name: "rounds up", d: time.Microsecond, want: "1"},
		{name: "whole seconds", d: 15 * time.Minute, want: "900"},
		{name: "zero", d: 0, want: "0"},
		{name: "longer old value kept", old: "30", d: 2 * time.Second, want: "30"},
		{name: "shorter old value replaced", old: "1", d: 2 * time.Second, want: "2"},
		{name: "garbage old value replaced", old: "soon", d: 2 * time.Second, want: "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.old != "" {
				h.Set("Retry-After", tc.old)
			}
			ratelimit.SetRetryAfter(h, tc.d)
			if got := h.Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  ratelimit.Limit
		want string
	}{
		{name: "login", lim: ratelimit.PerMinute(10), want: `"login";q=10;w=60`},
		{name: "register", lim: ratelimit.PerHour(5), want: `"register";q=5;w=3600`},
		{name: "small burst", lim: ratelimit.Limit{Rate: 60, Period: time.Hour, Burst: 3}, want: `"small burst";q=3;w=180`},
		{name: "big burst", lim: ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 20}, want: `"big burst";q=20;w=1200`},
		{name: "fast", lim: ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1}, want: `"fast";q=1;w=1`},
		{name: `we"ird\é`, lim: ratelimit.PerMinute(1), want: `"we\"ird\\??";q=1;w=60`},
	} {
		if got := ratelimit.FormatPolicy(tc.name, tc.lim); got != tc.want {
			t.Errorf("FormatPolicy(%q, %v) = %s, want %s", tc.name, tc.lim, got, tc.want)
		}
	}
}

func TestFormatRateLimitFull(t *testing.T) {
	// A peek at an unused key: nothing is being refilled, so no t.
	res := ratelimit.Result{Limit: ratelimit.PerMinute(10), Allowed: true, Remaining: 10}
	if got, want := ratelimit.FormatRateLimit("login", res), `"login";r=10`; got != want {
		t.Fatalf("FormatRateLimit = %s, want %s", got, want)
	}
}

func checkHeaders(t *testing.T, what string, got, want http.Header) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: headers = %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s: %s = %q, want %q", what, k, g, w)
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s: %s = %q, want %q", what, k, g, w)
				break
			}
		}
	}
}

// Formatting never panics, whatever limit it is given.
func TestFormatOddLimits(t *testing.T) {
	for _, l := range []ratelimit.Limit{{}, {Rate: -1}, {Period: time.Second}} {
		_ = ratelimit.FormatPolicy("x", l)
		_ = ratelimit.FormatRateLimit("x", ratelimit.Result{Limit: l, Allowed: true, ResetAfter: time.Second})
	}
}
