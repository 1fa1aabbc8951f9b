package trembling

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
)

// TrustedProxiesAttr is the website attribute that lists the networks of
// the reverse proxies in front of the site, as CIDR strings ("10.0.0.0/8",
// "127.0.0.1/32"); aspengo serve --trusted-proxies sets it, and a startup
// hook may. A request from one of them is attributed to the address its
// X-Forwarded-For names, for the per-client limits (failed logins,
// user_exists).
const TrustedProxiesAttr = "trusted_proxies"

// parseTrustedProxies reads website.trusted_proxies: a list (or tuple) of
// CIDR strings, a bare address meaning that address alone.
func parseTrustedProxies(w *aspengo.Website) ([]netip.Prefix, error) {
	v, ok := w.Attr(TrustedProxiesAttr)
	if !ok || v == starlark.None {
		return nil, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("trembling: website.%s must be a list of CIDR strings, not %s", TrustedProxiesAttr, v.Type())
	}
	var out []netip.Prefix
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("trembling: website.%s must be a list of CIDR strings, not one holding %s", TrustedProxiesAttr, x.Type())
		}
		p, err := ParseProxy(s)
		if err != nil {
			return nil, fmt.Errorf("trembling: website.%s: %w", TrustedProxiesAttr, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseProxy parses one trusted proxy network: a CIDR ("10.0.0.0/8") or
// a single address.
func ParseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR network (such as 10.0.0.0/8): %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR network (such as 10.0.0.0/8)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// clientAddr returns the address of the client of a request whose
// connection comes from remoteAddr ("host:port") with the X-Forwarded-For
// values xff: the connection's address, unless it is a trusted proxy;
// then the rightmost X-Forwarded-For address that is not a trusted proxy
// (each proxy appends the address it got the request from, so addresses
// further left were written by the client and prove nothing).
func clientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	if len(trusted) == 0 || !isTrusted(host, trusted) {
		return host
	}
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return host // malformed: trust nothing further left
		}
		if !isTrusted(hops[i], trusted) {
			return a.Unmap().String()
		}
		host = a.Unmap().String()
	}
	return host
}

// isTrusted reports whether the address host is in one of the networks.
func isTrusted(host string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
