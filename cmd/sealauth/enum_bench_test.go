package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkLoginEnumeration measures login latency for an unknown email and
// for a wrong password of an existing account, at the default bcrypt cost
// (12), over real HTTP, and reports both medians and their ratio. A login for
// an unknown email compares against a dummy hash, so the two should take the
// same time; the benchmark shows whether they do, and fails if the answers
// differ in status or body. It is a benchmark, not a timed test: latency on
// a shared machine is a measurement, not a pass/fail condition.
//
//	go test -run='^$' -bench=LoginEnumeration -benchtime=1x ./cmd/sealauth/
func BenchmarkLoginEnumeration(b *testing.B) {
	const perKind = 60 // requests of each kind per iteration (at least 50)
	// An account is throttled after LOGIN_FAILURES_THRESHOLD (default 10)
	// failed logins, so the wrong passwords are spread over accounts, a few
	// each, new ones in every iteration; every unknown email is a new one for
	// the same reason. The per-address limits are off: they would stop the
	// benchmark itself.
	const perAccount = 6
	env := map[string]string{"BCRYPT_COST": "12", "LOG_LEVEL": "warn"}
	for k, v := range noRateLimits {
		env[k] = v
	}
	s := startServer(b, "", env)

	var unknown, wrong []time.Duration
	var first *response
	check := func(kind string, r response) {
		if r.status != http.StatusUnauthorized {
			b.Fatalf("%s: status = %d, want 401; body %s", kind, r.status, r.body)
		}
		if first == nil {
			first = &r
			return
		}
		for _, h := range []string{"Content-Type", "WWW-Authenticate", "Cache-Control"} {
			if r.header.Get(h) != first.header.Get(h) {
				b.Fatalf("%s: %s = %q, another failed login had %q", kind, h, r.header.Get(h), first.header.Get(h))
			}
		}
		if !bytes.Equal(r.body, first.body) {
			b.Fatalf("%s: body %s differs from another failed login's %s", kind, r.body, first.body)
		}
	}
	// login times one request; the password is sealed beforehand, so that
	// only the server's work is measured.
	login := func(email, pw string) (response, time.Duration) {
		body := jsonBody(b, map[string]string{"email": email, "password": s.seal(b, pw)})
		start := time.Now()
		r := s.do(b, "POST", "/api/auth/login", body, nil)
		return r, time.Since(start)
	}
	// Warm up: connections, the dummy hash's first use, page faults.
	for i := range 3 {
		login(fmt.Sprintf("warmup-%d@example.com", i), goodPassword)
	}

	n := 0
	for b.Loop() {
		accounts := make([]string, (perKind+perAccount-1)/perAccount)
		for i := range accounts {
			accounts[i] = fmt.Sprintf("known-%d-%d@example.com", n, i)
			s.register(b, "Known", accounts[i], goodPassword).decode(b, http.StatusCreated, &map[string]any{})
		}
		// Interleaved, so that drift in the machine's load hits both alike.
		for i := range perKind {
			r, d := login(fmt.Sprintf("nobody-%d-%d@example.com", n, i), goodPassword)
			check("unknown email", r)
			unknown = append(unknown, d)

			r, d = login(accounts[i/perAccount], fmt.Sprintf("wrong password %d-%d", n, i))
			check("wrong password", r)
			wrong = append(wrong, d)
		}
		n++
	}

	u, w := percentiles(unknown), percentiles(wrong)
	b.ReportMetric(ms(u[50]), "unknown-p50-ms")
	b.ReportMetric(ms(w[50]), "wrong-p50-ms")
	b.ReportMetric(ms(u[50])/ms(w[50]), "p50-ratio")
	b.ReportMetric(0, "ns/op") // the time of a whole round says nothing here
	b.Logf("%d requests each; unknown email p10/p50/p90 = %.1f/%.1f/%.1f ms; wrong password p10/p50/p90 = %.1f/%.1f/%.1f ms",
		len(unknown), ms(u[10]), ms(u[50]), ms(u[90]), ms(w[10]), ms(w[50]), ms(w[90]))
}

// percentiles returns the 10th, 50th and 90th percentiles of ds (nearest rank).
func percentiles(ds []time.Duration) map[int]time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	out := map[int]time.Duration{}
	for _, p := range []int{10, 50, 90} {
		out[p] = s[min(len(s)-1, (len(s)*p+99)/100-1)]
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
