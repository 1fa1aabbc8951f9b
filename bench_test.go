package aspengo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/sitetest"
)

// benchSite returns the testdata site as a started Website, with a
// registry that has the test hooks but logs nothing.
func benchSite(b *testing.B) *aspengo.Website {
	b.Helper()
	return sitetest.Start(b, aspengo.Config{Root: "testdata/site", Registry: (&recorder{}).registry(b)})
}

// BenchmarkServeHTTP measures whole requests through the pipeline (all six
// hook phases of the test site included): a static file, a template-only
// simplate and a 3-page simplate with a little Starlark.
func BenchmarkServeHTTP(b *testing.B) {
	w := benchSite(b)
	for _, bm := range []struct{ name, path string }{
		{"static", "/hello.html"},
		{"template-only", "/plain"},
		{"3-page", "/"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bm.path, nil)
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: status %d: %s", bm.path, rec.Code, rec.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				w.ServeHTTP(rec, httptest.NewRequest("GET", bm.path, nil))
				io.Copy(io.Discard, rec.Body)
			}
		})
	}
}
