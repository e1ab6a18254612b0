package clientip_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/clientip"
)

// FuzzClientIP checks ClientIP against a plain reference walk on arbitrary
// peers, headers and proxy lists, and checks what must hold whatever the input:
// an untrusted peer is always the answer, and the answer is the peer or one of
// the header's entries, normalised.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []struct{ trusted, remote, xff string }{
		{"", "198.51.100.7:5123", ""},
		{"10.0.0.0/8", "198.51.100.7:5123", "203.0.113.99"},
		{"10.0.0.0/8", "10.0.0.1:443", "203.0.113.5"},
		{"10.0.0.0/8, 192.0.2.10", "10.0.0.1:443", "1.1.1.1, 203.0.113.5, 192.0.2.10, 10.1.2.3"},
		{"10.0.0.0/8", "10.0.0.1:443", "1.1.1.1\n203.0.113.5\n10.0.0.2, 10.0.0.3"},
		{"10.0.0.0/8", "10.0.0.1:443", "203.0.113.5, unknown"},
		{"10.0.0.0/8", "10.0.0.1:443", "203.0.113.5,,10.0.0.2"},
		{"10.0.0.0/8", "10.0.0.1:443", "203.0.113.5\n"},
		{"2001:db8:ffff::/48, ::1", "[::1]:443", "[2001:db8:1::42]:5555, [2001:db8:ffff::1]"},
		{"::ffff:10.0.0.0/104", "[::ffff:10.0.0.1]:443", "::ffff:203.0.113.5"},
		{"", "[fe80::1%eth0]:443", ""},
		{"10.0.0.0/8", "@", "203.0.113.5"},
		{"0.0.0.0/0, ::/0", "10.0.0.1:443", "10.0.0.3, 10.0.0.2"},
		{"10.0.0.0/8", "10.0.0.1:443", "<script>alert(1)</script>, 203.0.113.5"},
		{"10.0.0.0/8", "10.0.0.1:443", "' OR 1=1 --, 10.0.0.2"},
		{"10.0.0.0/8", "10.0.0.1:443", "10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.9, 10.0.0.8"},
		{"10.0.0.0/8", "10.0.0.1:443", "203.0.113.5:99999"},
		{"10.0.0.0/8", "10.0.0.1:443", "[203.0.113.5]"},
		{"10.0.0.0/8", "10.0.0.1:443", "\x00, 10.0.0.2"},
		{"10.0.0.0/8", "10.0.0.1:443", "1.2.3.4%eth0"},
	} {
		f.Add(seed.trusted, seed.remote, seed.xff)
	}
	f.Fuzz(func(t *testing.T, trusted, remote, xff string) {
		prefixes, err := clientip.ParseTrustedProxies(trusted)
		if err != nil {
			return
		}
		r := clientip.NewResolver(prefixes)
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var lines []string
		if xff != "" {
			lines = strings.Split(xff, "\n")
			req.Header["X-Forwarded-For"] = lines
		}
		got := r.ClientIP(req)

		if want := reference(r, remote, lines); got != want {
			t.Fatalf("ClientIP(trusted %q, remote %q, xff %q) = %v, reference walk says %v", trusted, remote, lines, got, want)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: not normalised", got)
		}
		peer, peerOK := refParse(remote)
		if !peerOK {
			if got.IsValid() {
				t.Fatalf("ClientIP with unparsable RemoteAddr %q = %v, want the zero Addr", remote, got)
			}
			return
		}
		if !r.Trusted(peer) && got != peer {
			t.Fatalf("ClientIP with untrusted peer %v = %v: a header was believed", peer, got)
		}
		if got != peer && !strings.Contains(normalizedEntries(lines), "|"+got.String()+"|") {
			t.Fatalf("ClientIP = %v, neither the peer %v nor an entry of %q", got, peer, lines)
		}
	})
}

// reference is the specification of ClientIP written the plain way: split
// every entry, then walk from the right.
func reference(r *clientip.Resolver, remote string, lines []string) netip.Addr {
	peer, ok := refParse(remote)
	if !ok || !r.Trusted(peer) {
		return peer
	}
	var entries []string
	for _, line := range lines {
		entries = append(entries, strings.Split(line, ",")...)
	}
	last := peer
	for i, hops := len(entries)-1, 0; i >= 0 && hops < clientip.MaxHops; i, hops = i-1, hops+1 {
		a, ok := refParse(strings.TrimSpace(entries[i]))
		if !ok {
			return last
		}
		if !r.Trusted(a) {
			return a
		}
		last = a
	}
	return last
}

// refParse accepts what the package documents: an address, bare, in
// brackets, or with a port.
func refParse(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	if len(s) > 2 && strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.WithZone("").Unmap(), true
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// normalizedEntries lists every parsable entry, normalised, as "|a|b|".
func normalizedEntries(lines []string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, line := range lines {
		for e := range strings.SplitSeq(line, ",") {
			if a, ok := refParse(strings.TrimSpace(e)); ok {
				b.WriteString(a.String() + "|")
			}
		}
	}
	return b.String()
}
