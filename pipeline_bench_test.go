package aspengo

import (
	"io"
	"net/http/httptest"
	"testing"

	"go.starlark.net/starlark"
)

// The benchmarks of this file measure each step of the pipeline on a
// site without hooks, so that what they count is the framework's own
// cost: dispatch, loading the simplate, running it, and whole requests.

// pipelineSite is a site with a static file and a template page.
func pipelineSite(b *testing.B, noWatch bool) *Website {
	b.Helper()
	dir := b.TempDir()
	for name, body := range map[string]string{
		"style.css":         "body{color:#222}\n",
		"hello.html.spt":    "[---]\nname = request.qs.one(\"name\", \"stranger\")\n[---]\n<!doctype html>\n<title>Hello</title>\n<p>Hello, {{ .name }}!</p>\n",
		"a/b/c/deep.html":   "deep",
		".aspen/base.html":  "{{ define \"x\" }}x{{ end }}",
		".aspen/hooks.conf": "",
	} {
		writeFile(b, dir+"/"+name, body)
	}
	return startWebsite(b, Config{Root: dir, NoWatch: noWatch})
}

func BenchmarkPipeline(b *testing.B) {
	for _, watch := range []bool{true, false} {
		name := "watch"
		if !watch {
			name = "stat"
		}
		b.Run(name, func(b *testing.B) {
			w := pipelineSite(b, !watch)
			for _, bm := range []struct{ name, path string }{
				{"static", "/style.css"},
				{"template", "/hello.html?name=Ada"},
			} {
				b.Run(bm.name, func(b *testing.B) {
					req := httptest.NewRequest("GET", bm.path, nil)
					rec := httptest.NewRecorder()
					w.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%s: %d", bm.path, rec.Code)
					}
					b.ReportAllocs()
					for b.Loop() {
						rec := httptest.NewRecorder()
						w.ServeHTTP(rec, req)
						io.Copy(io.Discard, rec.Body)
					}
				})
			}
			b.Run("dispatch", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := w.dcache.get(w.fsys, "/a/b/c/deep.html", w.checkpoint()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("load", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := w.loader.Load("hello.html.spt"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("run", func(b *testing.B) {
				sp, err := w.loader.Load("hello.html.spt")
				if err != nil {
					b.Fatal(err)
				}
				hr := httptest.NewRequest("GET", "/hello.html?name=Ada", nil)
				b.ReportAllocs()
				for b.Loop() {
					req := &Request{Request: hr, Website: w, Response: &Response{Code: 200}}
					vars := starlark.StringDict{"request": req.starlarkValue(), "response": req.responseStarlark(), "website": w.starlarkValue()}
					if _, err := sp.Run(req.Thread(), vars); err != nil {
						b.Fatal(err)
					}
					req.release()
				}
			})
		})
	}
}

// BenchmarkWatchSync measures what the watcher adds to each request.
func BenchmarkWatchSync(b *testing.B) {
	w := pipelineSite(b, false)
	if _, ok := w.watch.Changes(); !ok {
		b.Skip("not watching")
	}
	b.ReportAllocs()
	for b.Loop() {
		w.watch.Sync()
	}
}
