package clientip_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/clientip"
)

func mustResolver(t *testing.T, trusted string) *clientip.Resolver {
	t.Helper()
	p, err := clientip.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatalf("ParseTrustedProxies(%q): %v", trusted, err)
	}
	return clientip.NewResolver(p)
}

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest("POST", "/api/auth/login", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestClientIP(t *testing.T) {
	const proxies = "10.0.0.0/8, 192.0.2.10, 2001:db8:ffff::/48, ::1"
	for _, tc := range []struct {
		name    string
		trusted string
		remote  string
		xff     []string
		want    string // "" for the zero Addr
	}{
		{name: "no proxy, no header", trusted: "", remote: "198.51.100.7:5123", want: "198.51.100.7"},
		{name: "spoofed header from an untrusted peer is ignored", trusted: proxies,
			remote: "198.51.100.7:5123", xff: []string{"203.0.113.99"}, want: "198.51.100.7"},
		{name: "spoofed header with nothing trusted", trusted: "",
			remote: "10.0.0.1:5123", xff: []string{"203.0.113.99"}, want: "10.0.0.1"},
		{name: "spoofed trusted-looking entries from an untrusted peer", trusted: proxies,
			remote: "198.51.100.7:1", xff: []string{"10.0.0.1, 10.0.0.2"}, want: "198.51.100.7"},
		{name: "one trusted proxy", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5"}, want: "203.0.113.5"},
		{name: "trusted proxy without a header", trusted: proxies,
			remote: "10.0.0.1:443", want: "10.0.0.1"},
		{name: "client's own spoofed entries left of the real one", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"1.1.1.1, 2.2.2.2, 203.0.113.5"}, want: "203.0.113.5"},
		{name: "chain of trusted proxies", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5, 192.0.2.10, 10.1.2.3"}, want: "203.0.113.5"},
		{name: "chain with a spoofed trusted address further left", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"10.9.9.9, 203.0.113.5, 10.1.2.3"}, want: "203.0.113.5"},
		{name: "all entries trusted: the left-most", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"10.0.0.3, 10.0.0.2"}, want: "10.0.0.3"},
		{name: "several header lines in order", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"1.1.1.1", "203.0.113.5", "10.0.0.2, 10.0.0.3"}, want: "203.0.113.5"},
		{name: "several header lines, untrusted in the last", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "garbage right of the client stops at the proxy", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5, unknown"}, want: "10.0.0.1"},
		{name: "garbage between trusted entries stops at the last good one", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5, not-an-ip, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "garbage left of the client is never reached", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"<script>, 203.0.113.5"}, want: "203.0.113.5"},
		{name: "empty entry stops the walk", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5,,10.0.0.2"}, want: "10.0.0.2"},
		{name: "leading comma in a line is an empty entry", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5", ",10.0.0.2"}, want: "10.0.0.2"},
		{name: "empty header line stops the walk", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5", ""}, want: "10.0.0.1"},
		{name: "spaces and tabs around entries", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{" 203.0.113.5 ,\t10.0.0.2 "}, want: "203.0.113.5"},
		{name: "entries with ports", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5:51000, 10.0.0.2:8080"}, want: "203.0.113.5"},
		{name: "IPv6 peer trusted", trusted: proxies,
			remote: "[2001:db8:ffff::7]:443", xff: []string{"2001:db8:1::42"}, want: "2001:db8:1::42"},
		{name: "IPv6 entries with brackets and ports", trusted: proxies,
			remote: "[::1]:443", xff: []string{"[2001:db8:1::42]:5555, [2001:db8:ffff::1]"}, want: "2001:db8:1::42"},
		{name: "IPv6 peer untrusted", trusted: proxies,
			remote: "[2001:db8:1::42]:443", xff: []string{"2001:db8:1::99"}, want: "2001:db8:1::42"},
		{name: "IPv6 zone dropped", trusted: "",
			remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "IPv4-mapped peer matches an IPv4 prefix", trusted: proxies,
			remote: "[::ffff:10.0.0.1]:443", xff: []string{"203.0.113.5"}, want: "203.0.113.5"},
		{name: "IPv4-mapped entry comes back as IPv4", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"::ffff:203.0.113.5"}, want: "203.0.113.5"},
		{name: "IPv4-mapped trusted prefix", trusted: "::ffff:10.0.0.0/104",
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5"}, want: "203.0.113.5"},
		{name: "remote without a port", trusted: "",
			remote: "198.51.100.7", want: "198.51.100.7"},
		{name: "remote not an IP (unix socket)", trusted: proxies,
			remote: "@", xff: []string{"203.0.113.5"}, want: ""},
		{name: "empty remote", trusted: proxies, remote: "", want: ""},
		{name: "entry too long to be an address", trusted: proxies,
			remote: "10.0.0.1:443", xff: []string{"203.0.113.5, " + strings.Repeat("1", 100)}, want: "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustResolver(t, tc.trusted)
			got := r.ClientIP(request(tc.remote, tc.xff...))
			var want netip.Addr
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want {
				t.Fatalf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %v, want %v", tc.remote, tc.xff, got, want)
			}
		})
	}
}

// A header of a hundred thousand trusted entries costs no more than MaxHops
// of them.
func TestClientIPManyEntries(t *testing.T) {
	r := mustResolver(t, "10.0.0.0/8")
	long := strings.Repeat("10.0.0.9, ", 100_000) + "10.0.0.8"
	got := r.ClientIP(request("10.0.0.1:443", "203.0.113.5", long))
	if want := netip.MustParseAddr("10.0.0.9"); got != want {
		t.Fatalf("ClientIP(100k trusted entries) = %v, want %v (the last examined)", got, want)
	}
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = "10.0.0.7"
	}
	lines[0] = "203.0.113.5"
	got = r.ClientIP(request("10.0.0.1:443", lines...))
	if want := netip.MustParseAddr("10.0.0.7"); got != want {
		t.Fatalf("ClientIP(1000 trusted lines) = %v, want %v (stopped at MaxHops)", got, want)
	}
	allocs := testing.AllocsPerRun(10, func() { r.ClientIP(request("10.0.0.1:443", long)) })
	if allocs > 20 {
		t.Fatalf("ClientIP allocates %v times per call on a long header, want a handful", allocs)
	}
}

func TestNilResolverTrustsNone(t *testing.T) {
	var r *clientip.Resolver
	got := r.ClientIP(request("10.0.0.1:443", "203.0.113.5"))
	if want := netip.MustParseAddr("10.0.0.1"); got != want {
		t.Fatalf("nil Resolver: ClientIP = %v, want the peer %v", got, want)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: " 192.0.2.10 ,2001:db8::/32, ::1", want: []string{"192.0.2.10/32", "2001:db8::/32", "::1/128"}},
		{in: "::ffff:192.0.2.10", want: []string{"192.0.2.10/32"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "0.0.0.0/0,::/0", want: []string{"0.0.0.0/0", "::/0"}},
	} {
		got, err := clientip.ParseTrustedProxies(tc.in)
		if err != nil {
			t.Errorf("ParseTrustedProxies(%q): %v", tc.in, err)
			continue
		}
		var gotS []string
		for _, p := range got {
			gotS = append(gotS, p.String())
		}
		if strings.Join(gotS, " ") != strings.Join(tc.want, " ") {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tc.in, gotS, tc.want)
		}
	}
	for _, tc := range []struct{ in, wantInMessage string }{
		{in: "10.0.0.0/8,", wantInMessage: "entry 2 is empty"},
		{in: ",10.0.0.0/8", wantInMessage: "entry 1 is empty"},
		{in: "10.0.0.0/33", wantInMessage: `entry 1 "10.0.0.0/33": want a CIDR prefix`},
		{in: "10.0.0.0/8, proxy.example.com", wantInMessage: `entry 2 "proxy.example.com": want an IP address`},
		{in: "10.0.0.0/8 192.0.2.1", wantInMessage: `entry 1 "10.0.0.0/8 192.0.2.1"`},
		{in: "fe80::1%eth0", wantInMessage: "zone"},
		{in: "1.2.3.4:80", wantInMessage: "want an IP address"},
	} {
		_, err := clientip.ParseTrustedProxies(tc.in)
		if !errors.Is(err, clientip.ErrInvalidProxy) || !strings.Contains(err.Error(), tc.wantInMessage) {
			t.Errorf("ParseTrustedProxies(%q): err = %v, want ErrInvalidProxy mentioning %q", tc.in, err, tc.wantInMessage)
		}
	}
}

func TestSubnet(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.5", "203.0.113.5/32"},
		{"::ffff:203.0.113.5", "203.0.113.5/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	} {
		if got := clientip.Subnet(netip.MustParseAddr(tc.in)); got.String() != tc.want {
			t.Errorf("Subnet(%s) = %v, want %s", tc.in, got, tc.want)
		}
	}
	if got := clientip.Subnet(netip.Addr{}); got.IsValid() {
		t.Errorf("Subnet(zero Addr) = %v, want the zero Prefix", got)
	}
}
