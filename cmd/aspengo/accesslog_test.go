package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/internal/logbuf"
)

// TestAccessLog checks the access log's destinations: one line per
// request in the log's text form, everything written by Close, a file
// appended to, and nothing at all when off.
func TestAccessLog(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hello"))
	})
	requests := []string{"/a?x=1", "/missing", `/sp%20ace"q`}
	wantLines := []string{
		`level=INFO msg=request method=GET path="/a?x=1" status=200 bytes=5 duration=`,
		"msg=request method=GET path=/missing status=404 bytes=19 duration=",
		`msg=request method=GET path=/sp%20ace%22q status=200 bytes=5`,
	}
	serveAll := func(a *accessLogger) {
		for _, p := range requests {
			a.handler(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
		}
	}
	check := func(t *testing.T, out string) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(wantLines) {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wantLines), out)
		}
		for i, want := range wantLines {
			if !strings.HasPrefix(lines[i], "time=") || !strings.Contains(lines[i], want) {
				t.Errorf("line %d = %q, want it to contain %q", i, lines[i], want)
			}
		}
	}

	t.Run("stderr", func(t *testing.T) {
		var buf logbuf.Buffer
		a, err := openAccessLog("stderr", &buf)
		if err != nil {
			t.Fatal(err)
		}
		serveAll(a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, buf.String())
	})
	t.Run("file", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "access.log")
		for range 2 {
			a, err := openAccessLog(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			serveAll(a)
			a.Close()
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n != 2*len(requests) {
			t.Errorf("%d lines after two runs, want %d (appended)", n, 2*len(requests))
		}
		// The first run's lines (halving the bytes would cut a line:
		// durations differ in length).
		first := strings.SplitAfter(string(b), "\n")[:len(requests)]
		check(t, strings.Join(first, ""))
	})
	t.Run("off", func(t *testing.T) {
		var buf logbuf.Buffer
		a, err := openAccessLog("off", &buf)
		if err != nil || a != nil {
			t.Fatalf("openAccessLog(off) = %v, %v", a, err)
		}
		serveAll(a) // a nil logger passes requests straight through
		if buf.String() != "" {
			t.Errorf("logged with off: %q", buf.String())
		}
	})
}

// BenchmarkAccessLog measures what the access log adds to a request.
func BenchmarkAccessLog(b *testing.B) {
	a, err := openAccessLog("stderr", discard{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	h := a.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	req := httptest.NewRequest("GET", "/page.html?q=1", nil)
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, req)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
