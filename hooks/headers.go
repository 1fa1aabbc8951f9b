package hooks

import (
	"net/http"
	"strings"
)

// securityHeaders are the defaults SetSecurityHeaders adds, in order.
var securityHeaders = [...][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "same-origin"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", "frame-ancestors 'none'"},
}

// SetSecurityHeaders adds the default security headers that h lacks.
// Every response carries them unless the page or a hook set the header
// itself:
//
//   - X-Content-Type-Options: nosniff — a browser never guesses a type
//     other than the one sent (an upload sniffed as HTML);
//   - Referrer-Policy: same-origin — URLs of the site (which may hold
//     tokens in their query) are not sent to other sites;
//   - X-Frame-Options: DENY and Content-Security-Policy:
//     frame-ancestors 'none' — no other site can frame a page
//     (clickjacking). The first is for old browsers, the second for
//     current ones.
//
// A header that is present, with any value, is kept: the page or hook
// that set it knows better, and a page that allows framing sets its own
// Content-Security-Policy (with frame-ancestors) or X-Frame-Options. A Content-Security-Policy set by the page is kept whole
// (nothing is appended to it), and when it has a frame-ancestors
// directive, X-Frame-Options is not added either, since that directive is
// the page's own answer to framing. The website calls it for every
// response, just before the header is written, so it also covers error
// pages, redirects and static files.
func SetSecurityHeaders(h http.Header) {
	csp, hasCSP := h["Content-Security-Policy"]
	for _, kv := range securityHeaders {
		if _, ok := h[kv[0]]; ok {
			continue
		}
		if kv[0] == "X-Frame-Options" && hasCSP && hasFrameAncestors(csp) {
			continue
		}
		h[kv[0]] = []string{kv[1]}
	}
}

// hasFrameAncestors reports whether a Content-Security-Policy has a
// frame-ancestors directive.
func hasFrameAncestors(policies []string) bool {
	for _, p := range policies {
		for d := range strings.SplitSeq(p, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
			if strings.EqualFold(name, "frame-ancestors") {
				return true
			}
		}
	}
	return false
}
