package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The header fields of draft-ietf-httpapi-ratelimit-headers (revision 11, May
// 2026), whose values are Structured Field lists (RFC 9651) of items named by
// a string:
//
//	RateLimit-Policy: "login";q=10;w=60
//	RateLimit: "login";r=3;t=20
const (
	HeaderPolicy    = "RateLimit-Policy"
	HeaderRateLimit = "RateLimit"
)

// SetHeaders adds res to h as policy name: one item to RateLimit-Policy and
// one to RateLimit and, when res was refused, Retry-After (kept at the longest
// wait if several limits refused). Call it once per limit that applied to the
// request; the zero Limit adds nothing. name should be a short token such as
// "login" or "login-ip"; clients see it.
func SetHeaders(h http.Header, name string, res Result) {
	if res.Limit.IsZero() {
		return
	}
	h.Add(HeaderPolicy, FormatPolicy(name, res.Limit))
	h.Add(HeaderRateLimit, FormatRateLimit(name, res))
	if !res.Allowed {
		SetRetryAfter(h, res.RetryAfter)
	}
}

// SetRetryAfter sets Retry-After to d in whole seconds, rounded up so that a
// client that waits that long is not refused again. If h already has a longer
// Retry-After, it is kept, so that the longest of several waits wins.
func SetRetryAfter(h http.Header, d time.Duration) {
	secs := ceilSeconds(d)
	if old, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && old >= secs {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
}

// FormatPolicy formats l as a RateLimit-Policy item: its quota q is the burst,
// and its window w the time the burst takes to refill, so that q/w is the
// sustained rate: 10 a minute with a burst of 10 is q=10;w=60, and 10 a minute
// with a burst of 5 is q=5;w=30.
func FormatPolicy(name string, l Limit) string {
	window := time.Duration(l.interval()*l.burst()) * time.Microsecond
	return sfString(name) + ";q=" + strconv.FormatInt(l.burst(), 10) + ";w=" + strconv.FormatInt(max(1, ceilSeconds(window)), 10)
}

// FormatRateLimit formats res as a RateLimit item: r is the remaining quota
// and t the seconds (rounded up) until it grows, the time within which the
// client can make no more than r requests, which is how the draft defines t.
// For a refused request t is the Retry-After wait. t is left out when nothing
// is being refilled.
func FormatRateLimit(name string, res Result) string {
	s := sfString(name) + ";r=" + strconv.Itoa(max(0, res.Remaining))
	if t := res.nextAfter(); t > 0 {
		s += ";t=" + strconv.FormatInt(ceilSeconds(t), 10)
	}
	return s
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// sfString formats s as a Structured Field string: quoted, with quotes and
// backslashes escaped, and anything outside printable ASCII (which a string
// cannot hold) replaced by '?'.
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
