package trembling

import (
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"203.0.113.1:5000", []string{"198.51.100.7"}, nil, "203.0.113.1"},            // no proxies trusted: the header is ignored
		{"203.0.113.1:5000", []string{"198.51.100.7"}, trusted, "203.0.113.1"},        // not from a trusted proxy
		{"10.1.2.3:5000", []string{"198.51.100.7"}, trusted, "198.51.100.7"},          // from one
		{"10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.7"}, trusted, "198.51.100.7"}, // the client's own claim is ignored
		{"10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.7, 10.9.9.9"}, trusted, "198.51.100.7"},
		{"10.1.2.3:5000", []string{"garbage, 198.51.100.7"}, trusted, "198.51.100.7"},
		{"10.1.2.3:5000", []string{"198.51.100.7, garbage"}, trusted, "10.1.2.3"}, // malformed: nothing further trusted
		{"10.1.2.3:5000", nil, trusted, "10.1.2.3"},
		{"[::1]:5000", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"10.1.2.3:5000", []string{"10.4.4.4"}, trusted, "10.4.4.4"}, // every hop a proxy: the leftmost
	} {
		if got := clientAddr(tc.remote, tc.xff, tc.trusted); got != tc.want {
			t.Errorf("clientAddr(%q, %q, %v) = %q; want %q", tc.remote, tc.xff, tc.trusted, got, tc.want)
		}
	}
}

func TestParseProxy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"10.1.0.0/16": "10.1.0.0/16", "10.1.2.3/16": "10.1.0.0/16", "127.0.0.1": "127.0.0.1/32", "::1": "::1/128", "nonsense": "", "10.0.0.0/99": ""} {
		p, err := ParseProxy(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseProxy(%q) = %v; want an error", in, p)
			}
			continue
		}
		if err != nil || p.String() != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}
