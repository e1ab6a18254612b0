// Package clientip finds the address of the client behind a request: the
// socket's peer, unless that peer is a proxy the operator trusts, in which
// case the proxies' X-Forwarded-For header says who came before them.
//
// Only entries that trusted proxies appended can be believed. A client may
// send any X-Forwarded-For it likes, and each proxy appends the address it
// received the request from, so the header is read from the right: past the
// trusted proxies, the first entry that is not one of them is the address the
// last trusted proxy saw, which the client cannot forge. Everything to its
// left is the client's to invent and is ignored.
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// MaxHops is how many X-Forwarded-For entries ClientIP examines at most.
// Deployments have a handful of proxies; the bound keeps the work per request
// small whatever the header holds.
const MaxHops = 32

// maxEntryLen is longer than any address with a port and zone; a longer
// entry is garbage and is not parsed.
const maxEntryLen = 64

// Resolver finds client addresses given the trusted proxies. The zero
// Resolver, and a nil one, trust no proxy. It is safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver that trusts the proxies in trusted, as
// returned by [ParseTrustedProxies].
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: append([]netip.Prefix(nil), trusted...)}
}

// ErrInvalidProxy is wrapped by the errors of [ParseTrustedProxies].
var ErrInvalidProxy = errors.New("invalid trusted proxy")

// ParseTrustedProxies reads the TRUSTED_PROXIES setting: a comma-separated
// list of CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") and bare addresses
// ("192.0.2.10", "::1"), spaces allowed around them. Empty (or only spaces)
// means no proxy is trusted. IPv4-mapped IPv6 forms are read as the IPv4
// they map, since that is how client addresses are compared; an IPv4
// address matches IPv4 entries only, so trust everyone (behind a load
// balancer that is the only way in) with "0.0.0.0/0, ::/0".
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: entry %d is empty (a stray comma?)", ErrInvalidProxy, i+1)
		}
		p, err := parseProxy(item)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d %q: %v", ErrInvalidProxy, i+1, item, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(item string) (netip.Prefix, error) {
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32")
		}
		// ParsePrefix accepts host bits ("10.1.2.3/8"), as net.ParseCIDR does;
		// the prefix is what was meant.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(item)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an IP address or a CIDR prefix")
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("an address with a zone cannot be matched; leave out %%%s", a.Zone())
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = normalize(a)
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that sent r. It is the socket's
// peer (r.RemoteAddr) unless the peer is a trusted proxy; then it is the
// right-most entry of X-Forwarded-For (all its header lines, in order) that is
// not a trusted proxy, or the left-most entry if all are. An entry that is not
// an address stops the walk at the last address found, since nothing to its
// left can be believed either; so does reaching [MaxHops] entries.
//
// Addresses come back without port or zone, and IPv4-mapped IPv6 addresses
// as IPv4. If RemoteAddr is not an IP address (a Unix socket, say), the zero
// Addr comes back: the caller decides what such requests share.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer, ok := parseEntry(req.RemoteAddr)
	if !ok || !r.Trusted(peer) {
		return peer
	}
	lines := req.Header.Values("X-Forwarded-For")
	last := peer
	hops := 0
	for i := len(lines) - 1; i >= 0; i-- {
		rest, more := lines[i], true
		for more {
			var item string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				item, rest = rest[j+1:], rest[:j]
			} else {
				item, more = rest, false
			}
			a, ok := parseEntry(strings.TrimSpace(item))
			if !ok {
				return last
			}
			if !r.Trusted(a) {
				return a
			}
			last = a
			if hops++; hops >= MaxHops {
				return last
			}
		}
	}
	return last
}

// parseEntry reads an address as it appears in RemoteAddr or in
// X-Forwarded-For: bare ("192.0.2.1", "2001:db8::1", "[2001:db8::1]") or with
// a port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseEntry(s string) (netip.Addr, bool) {
	if s == "" || len(s) > maxEntryLen {
		return netip.Addr{}, false
	}
	bare := s
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		bare = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(bare); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// normalize drops the zone, which names an interface of whoever wrote the
// address and means nothing here, and unmaps IPv4-mapped IPv6, so that one
// client has one address however its connection arrived.
func normalize(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// Subnet is what rate limits should count a client by: its IPv4 address, or
// the /64 of its IPv6 address, since one IPv6 subscriber usually holds a whole
// /64 and could otherwise spread its requests over 2^64 addresses.
func Subnet(a netip.Addr) netip.Prefix {
	a = normalize(a)
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address
	return p
}
