package ratelimit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/ratelimit"
)

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Limit
	}{
		{in: "10/m", want: ratelimit.Limit{Rate: 10, Period: time.Minute}},
		{in: "10/1m", want: ratelimit.Limit{Rate: 10, Period: time.Minute}},
		{in: " 5 / h ", want: ratelimit.Limit{Rate: 5, Period: time.Hour}},
		{in: "100/1h;burst=20", want: ratelimit.Limit{Rate: 100, Period: time.Hour, Burst: 20}},
		{in: "3/90s; burst = 1", want: ratelimit.Limit{Rate: 3, Period: 90 * time.Second, Burst: 1}},
		{in: "60/s", want: ratelimit.Limit{Rate: 60, Period: time.Second}},
		{in: "off", want: ratelimit.Limit{}},
		{in: "0", want: ratelimit.Limit{}},
	} {
		got, err := ratelimit.ParseLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		// String round-trips.
		if again, err := ratelimit.ParseLimit(got.String()); err != nil || again != got {
			t.Errorf("ParseLimit(%q.String() = %q) = %+v, %v; want %+v", tc.in, got.String(), again, err, got)
		}
	}
	for _, in := range []string{
		"", "10", "ten/m", "10/fortnight", "-1/m", "0/m", "10/0s", "10/-1m", "10/m;burst=0",
		"10/m;burst=x", "10/m;bust=3", "10/m;burst", "2000000/s", "10/1ns",
	} {
		if l, err := ratelimit.ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) = %+v, want an error", in, l)
		}
	}
}

func TestLimitValidate(t *testing.T) {
	valid := []ratelimit.Limit{{}, ratelimit.PerMinute(1), ratelimit.PerHour(1_000_000), {Rate: 1, Period: 365 * 24 * time.Hour, Burst: 30}}
	for _, l := range valid {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", l, err)
		}
	}
	invalid := []ratelimit.Limit{
		{Rate: 1}, {Period: time.Second}, {Rate: 1, Period: time.Second, Burst: -1},
		{Rate: 1_000_001, Period: time.Hour}, {Rate: 10, Period: 5 * time.Microsecond},
		{Rate: 1, Period: 100 * 365 * 24 * time.Hour, Burst: 1_000_000},
	}
	for _, l := range invalid {
		if err := l.Validate(); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("%+v.Validate() = %v, want ErrInvalidLimit", l, err)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := ratelimit.Backoff{Threshold: 20, Base: time.Second, Max: 15 * time.Minute, ForgetAfter: time.Hour}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {19, 0}, {20, time.Second}, {21, 2 * time.Second}, {29, 512 * time.Second},
		{30, 15 * time.Minute}, {100, 15 * time.Minute}, {1 << 40, 15 * time.Minute},
	} {
		if got := b.Delay(tc.n); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if err := ratelimit.DefaultBackoff().Validate(); err != nil {
		t.Fatalf("DefaultBackoff().Validate() = %v", err)
	}
	if th := ratelimit.DefaultBackoff().Threshold; th > 20 {
		t.Fatalf("DefaultBackoff().Threshold = %d; the issue requires throttling after at most 20 failures", th)
	}
}

func TestNewMemory(t *testing.T) {
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if limits.Fallback != nil {
		t.Fatal("New without Redis made a Fallback")
	}
	if _, ok := limits.Limiter.(*ratelimit.MemoryLimiter); !ok {
		t.Fatalf("New without Redis: Limiter is %T, want *MemoryLimiter", limits.Limiter)
	}
	if _, err := ratelimit.New(ratelimit.Config{Backoff: ratelimit.Backoff{Threshold: -1}}); err == nil {
		t.Fatal("New with an invalid Backoff: err = nil")
	}
}
