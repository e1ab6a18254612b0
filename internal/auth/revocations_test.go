package auth

import (
	"crypto/rand"
	"strconv"
	"testing"
	"time"
)

func TestRevocationSet(t *testing.T) {
	r := newRevocationSet()
	now := time.Now()
	r.add("jti-1", now.Add(time.Minute))
	r.add(sessionRevocation("sid-1"), now.Add(time.Minute))
	r.add("jti-old", now.Add(-time.Second))
	tests := []struct {
		jti, sid string
		want     bool
	}{
		{"jti-1", "", true},
		{"jti-2", "sid-1", true},
		{"jti-2", "sid-2", false},
		{"jti-2", "", false},
		{"sid-1", "", false}, // a session id is not a token id
	}
	for _, tt := range tests {
		if got := r.revoked(tt.jti, tt.sid); got != tt.want {
			t.Errorf("revoked(%q, %q) = %v, want %v", tt.jti, tt.sid, got, tt.want)
		}
	}
	r.prune(now)
	if r.revoked("jti-old", "") || !r.revoked("jti-1", "") {
		t.Error("prune dropped a live entry or kept an expired one")
	}
}

// BenchmarkRevocationCheck is the per-request cost of the revocation check
// with 100,000 revoked, unexpired tokens and sessions in the set. Compare it
// with BenchmarkProfile in internal/httpapi (docs/benchmarks.md).
func BenchmarkRevocationCheck(b *testing.B) {
	r := newRevocationSet()
	exp := time.Now().Add(time.Hour)
	for i := range 100_000 {
		if i%2 == 0 {
			r.add(rand.Text(), exp)
		} else {
			r.add(sessionRevocation("s"+strconv.Itoa(i)), exp)
		}
	}
	jti, sid := rand.Text(), rand.Text()
	b.ReportAllocs()
	for b.Loop() {
		if r.revoked(jti, sid) {
			b.Fatal("revoked")
		}
	}
}
