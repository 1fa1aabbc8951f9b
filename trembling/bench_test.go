package trembling_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/trembling"
)

// BenchmarkReadSession measures a whole request, through the website's
// pipeline, of a page that reads an existing session (and changes
// nothing, so the store is not written), on each store.
func BenchmarkReadSession(b *testing.B) {
	for _, tc := range storeCases {
		b.Run(tc.store, func(b *testing.B) {
			cfg := trembling.Config{Store: tc.store}
			if tc.store == trembling.StoreCookie {
				cfg.KeyDir = b.TempDir()
			}
			s := startSite(b, siteOptions{uri: tc.uri(b), cfg: cfg})
			rec := httptest.NewRecorder()
			s.w.ServeHTTP(rec, httptest.NewRequest("GET", "/counter.html", nil))
			ck := sessionCookie(rec.Result().Header)
			if ck == nil {
				b.Fatal("no session cookie")
			}
			req := httptest.NewRequest("GET", "/read.html", nil)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.w.ServeHTTP(rec, req)
				if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "count=1" {
					b.Fatalf("got %d %q", rec.Code, rec.Body.String())
				}
			}
		})
	}
	// For comparison: the same page for a visitor with no session, which
	// reads no store.
	b.Run("no-session", func(b *testing.B) {
		s := startSite(b, siteOptions{})
		req := httptest.NewRequest("GET", "/read.html", nil)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			s.w.ServeHTTP(rec, req)
			if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "count=0" {
				b.Fatalf("got %d %q", rec.Code, rec.Body.String())
			}
		}
	})
}
