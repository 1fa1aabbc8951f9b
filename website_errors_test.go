package aspengo_test

import (
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo"
)

// TestTracebackInPage: with ShowTracebacks, a 500's page shows the
// traceback with the source lines around each frame, even though the
// site's error.html does not use .traceback; without it, the page shows
// none. The log has the traceback either way.
func TestTracebackInPage(t *testing.T) {
	for _, show := range []bool{false, true} {
		s := startSite(t, "testdata/errors", func(c *aspengo.Config) { c.ShowTracebacks = show })
		resp, body := s.do(t, "GET", "/crash.html", nil, nil)
		if resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
		if !strings.Contains(body, "<h1>Sorry: 500</h1>") {
			t.Errorf("show=%v: not the site's error page:\n%s", show, body)
		}
		want := []string{
			"Traceback (most recent call last):",
			"testdata/errors/crash.html.spt:4:",
			">    4 | half = divide(10, n)",
			`     3 | n = request.qs.int("n", default=0)`,
			"testdata/errors/.aspen/helpers.star:3:",
			">    3 |     return a // b",
			"     2 |     # b may be zero",
			"Error: floored division by zero",
		}
		for _, w := range want {
			if got := strings.Contains(body, template.HTMLEscapeString(w)); got != show {
				t.Errorf("show=%v: page contains %q = %v; body:\n%s", show, w, got, body)
			}
		}
		if show && strings.Index(body, "Traceback") > strings.Index(body, "</body>") {
			t.Errorf("traceback after </body>:\n%s", body)
		}
		for _, w := range want {
			// The test's logger is slog's text handler, which quotes.
			if q := strconv.Quote(w); !strings.Contains(s.log.String(), q[1:len(q)-1]) {
				t.Errorf("show=%v: log lacks %q:\n%s", show, w, s.log.String())
			}
		}
	}
}

// TestTracebackOfTemplateError: a template that fails while rendering
// shows the file, line and source around it.
func TestTracebackOfTemplateError(t *testing.T) {
	s := startSite(t, "testdata/errors", func(c *aspengo.Config) { c.ShowTracebacks = true })
	resp, body := s.do(t, "GET", "/template.html", nil, nil)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	for _, w := range []string{"testdata/errors/template.html.spt:3:", ">    3 | <p>{{ .x.nope.deeper }}</p>"} {
		if !strings.Contains(body, template.HTMLEscapeString(w)) {
			t.Errorf("page lacks %q:\n%s", w, body)
		}
	}
}

// TestJSONErrors: a JSON simplate's errors are JSON bodies, with the
// traceback only where tracebacks are shown, and the reason of a typed
// getter's 400.
func TestJSONErrors(t *testing.T) {
	tests := []struct {
		name, path string
		show       bool
		code       int
		want       map[string]any
		traceback  bool
	}{
		{name: "500", path: "/crash.json", code: 500, want: map[string]any{"code": 500.0, "error": "Internal Server Error"}},
		{name: "500 with traceback", path: "/crash.json", show: true, code: 500, want: map[string]any{"code": 500.0, "error": "Internal Server Error"}, traceback: true},
		{name: "400 with reason", path: "/crash.json?n=x", code: 400, want: map[string]any{"code": 400.0, "error": `n must be a whole number, not "x"`}},
		{name: "404 of a .json path", path: "/nothing.json", code: 404, want: map[string]any{"code": 404.0, "error": "Not Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSite(t, "testdata/errors", func(c *aspengo.Config) { c.ShowTracebacks = tt.show })
			resp, body := s.do(t, "GET", tt.path, nil, nil)
			if resp.StatusCode != tt.code || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q; want %d, application/json", resp.StatusCode, resp.Header.Get("Content-Type"), tt.code)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			tb, _ := got["traceback"].(string)
			delete(got, "traceback")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if hasTB := strings.Contains(tb, "crash.json.spt:2:") && strings.Contains(tb, `>    2 | response.body = {"q": 10 // n}`); hasTB != tt.traceback {
				t.Errorf("traceback %q, want one: %v", tb, tt.traceback)
			}
		})
	}
}

// TestBadInputPage: the 400 of a typed getter shows its reason on the
// built-in error page, escaped.
func TestBadInputPage(t *testing.T) {
	s := startSite(t, "testdata/detail", nil)
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/typed.html?page=2", 200, "<p>page 2</p>"},
		{"/typed.html?page=0", 400, "<p>page must be at least 1, not 0</p>"},
		{"/typed.html?page=%3Cb%3E", 400, "<p>page must be a whole number, not &#34;&lt;b&gt;&#34;</p>"},
	}
	for _, tt := range tests {
		resp, body := s.do(t, "GET", tt.path, nil, nil)
		if resp.StatusCode != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: %d, want %d with %q:\n%s", tt.path, resp.StatusCode, tt.code, tt.want, body)
		}
	}
}
