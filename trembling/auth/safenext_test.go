package auth_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/aspengo/aspengo/trembling/auth"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	const fb = "/home"
	long := "/" + strings.Repeat("a", auth.MaxNextLen-1)
	tests := []struct {
		next string
		ok   bool // accepted: SafeNext returns next, else fb
	}{
		// Local paths.
		{"/", true},
		{"/ok#frag", true},
		{"/ok/path?q=1", true},
		{"/ok?next=//evil", true}, // "//" in the query cannot change the host
		{"/ok?next=https://evil.example/#x", true},
		{"/account/", true},
		{"/.well-known/x", true},
		{"/search/hello%20world", true}, // an encoded space is a space
		{"/caf%C3%A9", true},
		{"/café", true},
		{"/discount/50%25", true}, // a literal "%" after decoding
		{"/a%2Fb", true},          // an encoded slash inside a segment
		{"/ok?q=%0A", true},       // the query is not decoded
		{long, true},

		// Other hosts and schemes.
		{"//evil.example", false},
		{"///evil.example", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"\\/evil.example", false},
		{"https://evil.example", false},
		{"http:evil.example", false},
		{"javascript:alert(1)", false},
		{"\tjavascript:alert(1)", false},
		{"JaVaScRiPt:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"evil.example", false},
		{"ok/relative", false},
		{"?next=/x", false},
		{"#frag", false},
		{"", false},

		// Whitespace and control characters.
		{" /x", false},
		{"/x ", false},
		{"/\t/x", false},
		{"/\x00/x", false},
		{"/x\r\nSet-Cookie: a=b", false},
		{"/x\x7f", false},
		{"/x\u0085", false},
		{"/x\u00a0", false},
		{"/x\u2028", false},
		{"/\u200b/evil.example", false}, // zero-width space
		{"/\u202e/x", false},            // right-to-left override
		{"/x\xff", false},               // not UTF-8
		{"/ok?x=\x01", false},
		{"/ok?next=\\evil", false}, // no backslash anywhere
		{"/#\\", false},

		// Percent-encoded tricks.
		{"/%2F%2Fevil.example", false},
		{"/%2f/evil.example", false},
		{"%2F%2Fevil.example", false},
		{"/%5Cevil.example", false},
		{"/%5cevil.example", false},
		{"/%09/evil.example", false},
		{"/%0d%0aSet-Cookie:x", false},
		{"/%00", false},
		{"/%252F%252Fevil.example", false}, // double-encoded
		{"/%25252F%25252Fevil.example", false},
		{"/%2525252F%2525252Fevil.example", false}, // four layers
		{"/%252525252Fx", false},                   // still encoded after four layers
		{"/%E2%80%8B/x", false},                    // encoded zero-width space
		{"/%C0%AF/x", false},                       // overlong "/"
		{"/100%", false},                           // invalid escape
		{"/%zz%2F%2Fevil", false},

		// Dot segments, which a browser resolves.
		{"/..//evil.example", false},
		{"/a/../b", false},
		{"/./x", false},
		{"/%2e%2e/x", false},
		{"/x/..", false},

		// Look-alikes of "/" and "\".
		{"/\uff0f/evil.example", false},
		{"\uff0f\uff0fevil.example", false},
		{"/\u2215evil.example", false},
		{"/\u2044evil.example", false},
		{"/\uff3cevil.example", false},
		{"/\ufe68evil.example", false},
		{"/%EF%BC%8F/evil.example", false},

		// Size.
		{long + "a", false},
		{"/" + strings.Repeat("%2F", 10000), false},
	}
	for _, tc := range tests {
		want := fb
		if tc.ok {
			want = tc.next
		}
		if got := auth.SafeNext(tc.next, fb); got != want {
			t.Errorf("SafeNext(%q) = %q; want %q", trim(tc.next), trim(got), trim(want))
		}
	}
}

func TestSafeNextFallback(t *testing.T) {
	t.Parallel()
	tests := []struct{ next, fallback, want string }{
		{"//evil", "", "/"},
		{"//evil", "/dashboard", "/dashboard"},
		{"//evil", "//evil.example", "/"},       // an unsafe fallback is replaced
		{"//evil", "https://evil.example", "/"}, // likewise
		{"/ok", "//evil.example", "/ok"},
	}
	for _, tc := range tests {
		if got := auth.SafeNext(tc.next, tc.fallback); got != tc.want {
			t.Errorf("SafeNext(%q, %q) = %q; want %q", tc.next, tc.fallback, got, tc.want)
		}
	}
}

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"/", "/ok?next=//evil", "//evil.example", "/\\evil", "/%2F%2Fevil", "/%252F%252Fevil",
		"https://evil.example", "/%09/x", "/a/../b", "/\uff0fx", "/café", "/x#y", "/%zz",
	} {
		f.Add(s, "/")
		f.Add(s, "/fallback")
	}
	f.Fuzz(func(t *testing.T, next, fallback string) {
		got := auth.SafeNext(next, fallback)
		if got == fallback {
			return
		}
		if got != next && got != "/" { // "/" replaces an unsafe fallback
			t.Fatalf("SafeNext(%q, %q) = %q: neither next, fallback nor \"/\"", next, fallback, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("SafeNext(%q) = %q: not a single leading slash", next, got)
		}
		if strings.ContainsFunc(got, unicode.IsControl) || strings.Contains(got, "\\") {
			t.Fatalf("SafeNext(%q) = %q: control character or backslash", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			t.Fatalf("SafeNext(%q) = %q: url.Parse gives %#v, %v", next, got, u, err)
		}
		// Resolved against a base, it stays on the base's host.
		base, _ := url.Parse("https://site.example/a/b")
		if r := base.ResolveReference(u); r.Host != "site.example" || r.Scheme != "https" {
			t.Fatalf("SafeNext(%q) = %q resolves to %s", next, got, r)
		}
		// Decoded once more, it is still a single-slash path.
		if p, err := url.PathUnescape(u.EscapedPath()); err == nil && (strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\")) {
			t.Fatalf("SafeNext(%q) = %q: decoded path %q", next, got, p)
		}
	})
}
