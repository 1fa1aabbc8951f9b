package hooks_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/hooks"
)

func TestSetSecurityHeaders(t *testing.T) {
	defaults := http.Header{
		"X-Content-Type-Options":  {"nosniff"},
		"Referrer-Policy":         {"same-origin"},
		"X-Frame-Options":         {"DENY"},
		"Content-Security-Policy": {"frame-ancestors 'none'"},
	}
	with := func(kv ...string) http.Header {
		h := defaults.Clone()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
			} else {
				h[kv[i]] = []string{kv[i+1]}
			}
		}
		return h
	}
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"none set", http.Header{}, defaults},
		{"other headers kept", http.Header{"Content-Type": {"text/html"}}, with("Content-Type", "text/html")},
		{"own referrer policy", http.Header{"Referrer-Policy": {"no-referrer"}}, with("Referrer-Policy", "no-referrer")},
		{"own frame options", http.Header{"X-Frame-Options": {"SAMEORIGIN"}}, with("X-Frame-Options", "SAMEORIGIN")},
		{
			"own CSP without frame-ancestors is kept whole",
			http.Header{"Content-Security-Policy": {"default-src 'self'"}},
			with("Content-Security-Policy", "default-src 'self'"),
		},
		{
			"own CSP with frame-ancestors: no X-Frame-Options",
			http.Header{"Content-Security-Policy": {"default-src 'self'; Frame-Ancestors https://partner.example"}},
			with("Content-Security-Policy", "default-src 'self'; Frame-Ancestors https://partner.example", "X-Frame-Options", ""),
		},
		{"own nosniff value kept", http.Header{"X-Content-Type-Options": {"nosniff"}}, defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.in.Clone()
			hooks.SetSecurityHeaders(h)
			if diff := cmp.Diff(tt.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}
