package aspengo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/logbuf"
	"github.com/aspengo/aspengo/internal/sitetest"
)

// orderKey is where the test hooks record which phases ran.
type orderKey struct{}

// recorder registers Go hooks named test:<phase> that record the order in
// which phases run, per request, and report it in the X-Order header.
type recorder struct {
	mu       sync.Mutex
	startups int
	stops    int
}

func (rec *recorder) registry(t testing.TB) *aspengo.Registry {
	t.Helper()
	reg := aspengo.NewRegistry()
	mark := func(phase string) func(r *aspengo.Request) error {
		return func(r *aspengo.Request) error {
			order, _ := r.Value(orderKey{}).([]string)
			r.SetValue(orderKey{}, append(order, phase))
			if r.URL.Query().Get("fail") == phase {
				return errors.New("hook failed on purpose")
			}
			if r.URL.Query().Get("panic") == phase {
				panic("hook panicked on purpose")
			}
			if r.URL.Query().Get("deny") == phase {
				return r.Abort(http.StatusForbidden, "")
			}
			if r.URL.Query().Get("own") == phase {
				return &aspengo.Response{Code: http.StatusTeapot} // no Header
			}
			return nil
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.Hook("test:startup", aspengo.Hook{Startup: func(ctx context.Context, w *aspengo.Website) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.startups++
		return nil
	}}))
	must(reg.Hook("test:shutdown", aspengo.Hook{Shutdown: func(ctx context.Context, w *aspengo.Website) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.stops++
		return nil
	}}))
	must(reg.Builtin("boom", starlark.NewBuiltin("boom", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		panic("a builtin panicked on purpose")
	})))
	must(reg.Hook("test:inbound_early", aspengo.Hook{Inbound: mark("inbound_early")}))
	must(reg.Hook("test:inbound_late", aspengo.Hook{Inbound: mark("inbound_late")}))
	must(reg.Hook("test:outbound_early", aspengo.Hook{Outbound: mark("outbound_early")}))
	must(reg.Hook("test:outbound_late", aspengo.Hook{Outbound: func(r *aspengo.Request) error {
		order, _ := r.Value(orderKey{}).([]string)
		order = append(order, "outbound_late")
		r.Response.Header.Set("X-Order", strings.Join(order, ","))
		return nil
	}}))
	return reg
}

type site struct {
	*httptest.Server
	w   *aspengo.Website
	rec *recorder
	log *logbuf.Buffer
}

// startSite serves the site at root (testdata/site unless given) and
// stops it when the test ends.
func startSite(t *testing.T, root string, tweak func(*aspengo.Config)) *site {
	t.Helper()
	rec := &recorder{}
	logs := &logbuf.Buffer{}
	cfg := aspengo.Config{
		Root:     root,
		Registry: rec.registry(t),
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s := sitetest.New(t, cfg)
	return &site{Server: s.Server, w: s.Website, rec: rec, log: logs}
}

// noRedirects is a client that reports redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (s *site) do(t *testing.T, method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPipeline(t *testing.T) {
	s := startSite(t, "testdata/site", nil)
	const all = "inbound_early,inbound_late,outbound_early,outbound_late"
	const stopped = "inbound_early,outbound_early,outbound_late"
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string

		code     int
		order    string
		location string
		ctype    string
		contains []string
		absent   []string
		header   map[string]string
	}{
		{name: "static", path: "/hello.html", code: 200, order: all, ctype: "text/html; charset=utf-8", contains: []string{"static hello"}, header: map[string]string{"X-Late": "ran"}},
		{name: "css", path: "/style.css", code: 200, order: all, ctype: "text/css; charset=utf-8", contains: []string{"color: red"}},
		{name: "3-page simplate with base template", path: "/", code: 200, order: all, ctype: "text/html; charset=utf-8",
			contains: []string{"<title>Test Site</title>", "<h1>index</h1><i>0</i><i>2</i><i>4</i>"}},
		{name: "1-page spt", path: "/plain", code: 200, ctype: "text/plain; charset=utf-8", contains: []string{"plain GET"}},
		{name: "auto-escaping", path: "/escape.html?name=" + url.QueryEscape("<script>alert(1)</script>"), code: 200,
			contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, absent: []string{"<script>"}},
		{name: "load module", path: "/load.html?w=hey", code: 200, contains: []string{"<b>HEY!</b>"}},
		{name: "json simplate", path: "/data.json", code: 200, ctype: "application/json",
			contains: []string{`"a":1`, `"list":[1,"two",null]`, `"title":"Test Site"`}},
		{name: "virtual int", path: "/blog/2024/", code: 200, contains: []string{"<p>2024 then 2025</p>"}},
		{name: "virtual int refuses text", path: "/blog/soon/", code: 404},
		{name: "virtual file", path: "/users/alice.html", code: 200, contains: []string{"user alice"}},
		{name: "directory index", path: "/docs/", code: 200, contains: []string{"docs index"}},
		{name: "trailing slash redirect keeps query", path: "/docs?a=1", code: 301, location: "/docs/?a=1", order: stopped},
		{name: "not found", path: "/nope.html", code: 404, order: stopped, contains: []string{"custom 404: 404 Not Found"}},
		{name: "hidden", path: "/.aspen/hooks.conf", code: 404},
		{name: "encoded dots", path: "/%2e%2e/website.go", code: 404},
		{name: "simplate redirect", path: "/redirect", code: 302, location: "/hello.html", order: all},
		{name: "abort uses error page", path: "/forbidden", code: 403, contains: []string{"403 Forbidden"}},
		{name: "abort with body", path: "/teapot", code: 418, contains: []string{"short and stout"}},
		{name: "starlark inbound hook stops", path: "/hello.html?stop=early", code: 302, location: "/stopped.html", order: stopped},
		{name: "go inbound hook aborts", path: "/hello.html?deny=inbound_late", code: 403, order: all},
		{name: "outbound_early failure is a 500, outbound_late still runs", path: "/hello.html?fail=outbound_early", code: 500, order: all},
		{name: "panic in a hook is a 500", path: "/hello.html?panic=inbound_early", code: 500, order: stopped},
		{name: "syntax error is a 500", path: "/broken.html", code: 500, absent: []string{"broken.html.spt"}},
		{name: "runtime error is a 500", path: "/crash.html", code: 500, absent: []string{"division"}},
		{name: "runaway loop is a 500, outbound Starlark hooks still run", path: "/loop", code: 500, order: all, header: map[string]string{"X-Late": "ran"}},
		{name: "a hook's own Response", path: "/hello.html?own=inbound_early", code: 418, order: stopped, contains: []string{"418 I&#39;m a teapot"}},
		{name: "panic in a builtin is a 500", path: "/panic", code: 500, order: all},
		{name: "form post", method: "POST", path: "/form.html", body: "greeting=%3Cb%3Ehi", contentType: "application/x-www-form-urlencoded",
			code: 200, contains: []string{"<p>&lt;b&gt;hi</p>"}},
		{name: "allow refuses GET", path: "/form.html", code: 405, header: map[string]string{"Allow": "POST"}},
		{name: "static refuses POST", method: "POST", path: "/hello.html", code: 405, header: map[string]string{"Allow": "GET, HEAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			resp, body := s.do(t, method, tt.path, strings.NewReader(tt.body), h)
			if resp.StatusCode != tt.code {
				t.Fatalf("status = %d, want %d; body:\n%s", resp.StatusCode, tt.code, body)
			}
			if tt.order != "" {
				if got := resp.Header.Get("X-Order"); got != tt.order {
					t.Errorf("hook order = %q, want %q", got, tt.order)
				}
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			if tt.ctype != "" {
				if got := resp.Header.Get("Content-Type"); got != tt.ctype {
					t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
				}
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(body, bad) {
					t.Errorf("body has %q:\n%s", bad, body)
				}
			}
			for k, want := range tt.header {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if s.rec.startups != 1 {
		t.Errorf("startup hook ran %d times, want 1", s.rec.startups)
	}
}

func TestBrokenSimplateAffectsOnlyItsURL(t *testing.T) {
	s := startSite(t, "testdata/site", nil)
	for i := 0; i < 2; i++ {
		if resp, _ := s.do(t, "GET", "/broken.html", nil, nil); resp.StatusCode != 500 {
			t.Fatalf("broken: status %d, want 500", resp.StatusCode)
		}
		if resp, _ := s.do(t, "GET", "/", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("index after broken: status %d, want 200", resp.StatusCode)
		}
	}
	if !regexp.MustCompile(`broken\.html\.spt:\d+`).MatchString(s.log.String()) {
		t.Errorf("log lacks the compile error's file:line:\n%s", s.log.String())
	}
}

func TestTracebacks(t *testing.T) {
	for _, show := range []bool{false, true} {
		s := startSite(t, "testdata/site", func(c *aspengo.Config) { c.ShowTracebacks = show })
		resp, body := s.do(t, "GET", "/crash.html", nil, nil)
		if resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
		if got := strings.Contains(body, "crash.html.spt:1"); got != show {
			t.Errorf("show=%v: traceback in page = %v; body:\n%s", show, got, body)
		}
		if !strings.Contains(s.log.String(), "crash.html.spt:1") {
			t.Errorf("show=%v: traceback not logged:\n%s", show, s.log.String())
		}
	}
}

func TestStaticFiles(t *testing.T) {
	s := startSite(t, "testdata/site", nil)
	resp, body := s.do(t, "GET", "/hello.html", nil, nil)
	etag, lastMod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("ETag %q, Last-Modified %q: want both", etag, lastMod)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	tests := []struct {
		name   string
		method string
		header http.Header
		code   int
		body   string
	}{
		{"if-none-match", "GET", http.Header{"If-None-Match": {etag}}, 304, ""},
		{"if-modified-since", "GET", http.Header{"If-Modified-Since": {lastMod}}, 304, ""},
		{"range", "GET", http.Header{"Range": {"bytes=3-8"}}, 206, body[3:9]},
		{"head", "HEAD", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := s.do(t, tt.method, "/hello.html", nil, tt.header)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if diff := cmp.Diff(tt.body, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := resp.Header.Get("X-Order"); got == "" {
				t.Error("outbound hooks did not run")
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s := startSite(t, "testdata/site", func(c *aspengo.Config) { c.MaxBodyBytes = 100 })
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp, _ := s.do(t, "POST", "/form.html", strings.NewReader("greeting="+strings.Repeat("x", 200)), h)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	resp, _ = s.do(t, "POST", "/form.html", strings.NewReader("greeting=ok"), h)
	if resp.StatusCode != 200 {
		t.Fatalf("small body: status %d, want 200", resp.StatusCode)
	}
}

// copySite copies testdata/site into a temporary directory that a test
// may edit.
func copySite(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS("testdata/site")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// edit rewrites a file of the site and moves its modification time
// forward, so that a change within the file system's time granularity
// still shows.
func edit(t *testing.T, name, content string) {
	t.Helper()
	old, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	next := old.ModTime().Add(2 * time.Second)
	if err := os.Chtimes(name, next, next); err != nil {
		t.Fatal(err)
	}
}

func TestHotReload(t *testing.T) {
	root := copySite(t)
	s := startSite(t, root, nil)
	get := func(path string) (int, string) {
		resp, body := s.do(t, "GET", path, nil, nil)
		return resp.StatusCode, body
	}
	if _, body := get("/escape.html?name=a"); !strings.Contains(body, "<p>a</p>") {
		t.Fatalf("before edit: %s", body)
	}
	edit(t, filepath.Join(root, "escape.html.spt"), "name = request.qs.one(\"name\", \"\")\n[---]\n<em>{{ .name }}</em>\n")
	if _, body := get("/escape.html?name=a"); !strings.Contains(body, "<em>a</em>") {
		t.Errorf("after editing the page: %s", body)
	}
	edit(t, filepath.Join(root, ".aspen", "base.html"), "<title>edited {{ .website.title }}</title>{{ block \"content\" . }}{{ end }}\n")
	if _, body := get("/"); !strings.Contains(body, "<title>edited Test Site</title>") {
		t.Errorf("after editing base.html: %s", body)
	}
	edit(t, filepath.Join(root, ".aspen", "helpers.star"), "def shout(s):\n    return s + \"?\"\n")
	if _, body := get("/load.html?w=hey"); !strings.Contains(body, "<b>hey?</b>") {
		t.Errorf("after editing helpers.star: %s", body)
	}
	// Breaking a page and mending it again needs no restart either.
	edit(t, filepath.Join(root, "escape.html.spt"), "name = (\n[---]\n{{ .name }}\n")
	if code, _ := get("/escape.html"); code != 500 {
		t.Errorf("after breaking the page: status %d, want 500", code)
	}
	edit(t, filepath.Join(root, "escape.html.spt"), "name = \"mended\"\n[---]\n{{ .name }}\n")
	if _, body := get("/escape.html"); !strings.Contains(body, "mended") {
		t.Errorf("after mending the page: %s", body)
	}
}

func TestShutdownRunsHooksOnce(t *testing.T) {
	rec := &recorder{}
	w, err := aspengo.New(aspengo.Config{Root: "testdata/site", Registry: rec.registry(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if rec.stops != 1 {
		t.Errorf("shutdown hooks ran %d times, want 1", rec.stops)
	}
}

func TestWebsiteReadOnlyAfterStartup(t *testing.T) {
	root := copySite(t)
	edit(t, filepath.Join(root, "index.html.spt"), "website.title = \"changed\"\n[---]\n{{ .website.title }}\n")
	s := startSite(t, root, nil)
	resp, body := s.do(t, "GET", "/", nil, nil)
	if resp.StatusCode != 500 {
		t.Errorf("setting website.title in a page: status %d, want 500; body %s", resp.StatusCode, body)
	}
	if !strings.Contains(s.log.String(), "read-only") {
		t.Errorf("log does not say the website is read-only:\n%s", s.log.String())
	}
}

func TestNewRefusesBadHooksConf(t *testing.T) {
	root := copySite(t)
	conf := filepath.Join(root, ".aspen", "hooks.conf")
	if err := os.WriteFile(conf, []byte("nosuch:startup\n^L\ntest:outbound_late\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := aspengo.New(aspengo.Config{Root: root, Registry: (&recorder{}).registry(t)})
	if err == nil {
		t.Fatal("New accepted a bad hooks.conf")
	}
	for _, want := range []string{conf + ":1:", conf + ":3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestCheck(t *testing.T) {
	err := aspengo.Check(aspengo.Config{Root: "testdata/site", Registry: (&recorder{}).registry(t)})
	if err == nil {
		t.Fatal("Check found nothing wrong in testdata/site, which has a broken simplate")
	}
	if !strings.Contains(err.Error(), "broken.html.spt:") {
		t.Errorf("Check error lacks broken.html.spt:\n%v", err)
	}
	if strings.Contains(err.Error(), "index.html.spt") {
		t.Errorf("Check complains of a good simplate:\n%v", err)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	s := startSite(t, "testdata/site", func(c *aspengo.Config) { c.TrustedOrigins = []string{"https://trusted.example"} })
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	with := func(k, v string) http.Header {
		h := form.Clone()
		h.Set(k, v)
		return h
	}
	host := strings.TrimPrefix(s.URL, "http://")
	tests := []struct {
		name   string
		method string
		header http.Header
		code   int
	}{
		{"cross-site form post", "POST", with("Sec-Fetch-Site", "cross-site"), 403},
		{"foreign Origin", "POST", with("Origin", "https://evil.example"), 403},
		{"same-origin by Sec-Fetch-Site", "POST", with("Sec-Fetch-Site", "same-origin"), 200},
		{"same-origin by Origin", "POST", with("Origin", "http://"+host), 200},
		{"trusted origin", "POST", with("Origin", "https://trusted.example"), 200},
		{"non-browser client", "POST", form, 200},
		{"cross-site GET is safe", "GET", with("Sec-Fetch-Site", "cross-site"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/form.html"
			if tt.method == "GET" {
				path = "/hello.html"
			}
			resp, body := s.do(t, tt.method, path, strings.NewReader("greeting=hi"), tt.header)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.code, body)
			}
			if tt.code == 403 && !strings.Contains(body, "403 Forbidden") {
				t.Errorf("refusal lacks the error page: %s", body)
			}
			if resp.Header.Get("X-Order") == "" {
				t.Error("outbound hooks did not run")
			}
		})
	}
}

// TestMultipartTempFilesRemoved uploads a file too large to keep in memory
// through http.StripPrefix, which hands the Website a copy of the request:
// the temporary file must still be removed.
func TestMultipartTempFilesRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	srv := sitetest.New(t,
		aspengo.Config{Root: "testdata/site", Registry: (&recorder{}).registry(t), Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 20 << 20},
		sitetest.Handler(func(w http.Handler) http.Handler { return http.StripPrefix("/site", w) }))

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("greeting", "hi")
	fw, _ := mw.CreateFormFile("upload", "big.bin")
	fw.Write(bytes.Repeat([]byte("x"), 9<<20))
	mw.Close()
	resp, err := http.Post(srv.URL+"/site/form.html", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: status %d", resp.StatusCode)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind after the request: %s", e.Name())
	}
}
