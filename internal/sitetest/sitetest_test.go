package sitetest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/sitetest"
)

// newSite writes a site whose shutdown hook counts its runs into stops,
// with a page that redirects and one that sets a cookie and reads it.
func newSite(t *testing.T, stops *atomic.Int32) aspengo.Config {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{
		".aspen/hooks.conf": "^L\n^L\n^L\n^L\n^L\ntest:shutdown\n",
		"away.spt":          "request.redirect(\"/there\")\n[---]\n",
		"cookie.html.spt":   "seen = request.cookie.get(\"c\", \"\")\nresponse.set_cookie(\"c\", \"v\")\n[---]\nseen={{ .seen }}",
		"hello.html":        "hello",
		"broken.html.spt":   "x = 1 // 0\n[---]\n{{ .x }}",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := aspengo.NewRegistry()
	if err := reg.Hook("test:shutdown", aspengo.Hook{Shutdown: func(context.Context, *aspengo.Website) error {
		stops.Add(1)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	return aspengo.Config{Root: root, Registry: reg}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestNew(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tls], func(t *testing.T) {
			var stops atomic.Int32
			var opts []sitetest.Option
			if tls {
				opts = append(opts, sitetest.TLS())
			}
			s := sitetest.New(t, newSite(t, &stops), opts...)
			if want := map[bool]string{false: "http://", true: "https://"}[tls]; !strings.HasPrefix(s.URL, want) {
				t.Errorf("URL %q, want %s...", s.URL, want)
			}
			c := s.Client()
			if _, body := get(t, c, s.URL+"/hello.html"); body != "hello" {
				t.Errorf("hello.html: %q", body)
			}
			resp, _ := get(t, c, s.URL+"/away")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/there" {
				t.Errorf("the client followed or lost a redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			get(t, c, s.URL+"/cookie.html")
			if _, body := get(t, c, s.URL+"/cookie.html"); body != "seen=v" {
				t.Errorf("the client's jar did not keep the cookie: %q", body)
			}
			if _, body := get(t, s.Client(), s.URL+"/cookie.html"); body != "seen=" {
				t.Errorf("a second client shares the first one's jar: %q", body)
			}
			if resp, _ := get(t, c, s.URL+"/broken.html"); resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("broken.html: status %d, want 500", resp.StatusCode)
			}
			if !s.Logged("broken.html.spt") {
				t.Errorf("the log lacks the broken page:\n%s", s.Log())
			}

			s.Close()
			if n := stops.Load(); n != 1 {
				t.Errorf("after Close the shutdown hook ran %d times, want 1", n)
			}
			if _, err := c.Get(s.URL + "/hello.html"); err == nil {
				t.Error("the server still answers after Close")
			}
			s.Close() // again, as the cleanup does
			if n := stops.Load(); n != 1 {
				t.Errorf("a second Close ran the shutdown hook again: %d runs", n)
			}
		})
	}
}

func TestNewShutsDownWhenTheTestEnds(t *testing.T) {
	var stops atomic.Int32
	t.Run("site", func(t *testing.T) {
		sitetest.New(t, newSite(t, &stops))
	})
	if n := stops.Load(); n != 1 {
		t.Errorf("after the test the shutdown hook ran %d times, want 1", n)
	}
}

func TestStart(t *testing.T) {
	var stops atomic.Int32
	t.Run("site", func(t *testing.T) {
		w := sitetest.Start(t, newSite(t, &stops))
		req, err := http.NewRequestWithContext(t.Context(), "GET", "/hello.html", nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Body.String() != "hello" {
			t.Errorf("hello.html: %q", rec.Body.String())
		}
	})
	if n := stops.Load(); n != 1 {
		t.Errorf("after the test the shutdown hook ran %d times, want 1", n)
	}
}
