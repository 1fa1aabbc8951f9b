package simplate

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// mapFS builds a MapFS from file contents.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// fakeRequest is a request value as the root package makes them: a
// struct for Starlark with its own template form.
type fakeRequest struct {
	*starlarkstruct.Struct
	tv map[string]any
}

func (r fakeRequest) TemplateValue() any { return r.tv }

func newRequest(username string, messages ...string) fakeRequest {
	var msgs []any
	var smsgs []starlark.Value
	for _, m := range messages {
		msgs = append(msgs, map[string]any{"text": m})
		smsgs = append(smsgs, starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"text": starlark.String(m)}))
	}
	user := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"username": starlark.String(username)})
	return fakeRequest{
		Struct: starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"user":     user,
			"messages": starlark.NewList(smsgs),
			"method":   starlark.String("GET"),
		}),
		tv: map[string]any{"user": map[string]any{"username": username}, "messages": msgs, "method": "GET"},
	}
}

// run loads name from l and runs it with vars, failing the test on error.
func run(t testing.TB, l *Loader, name string, vars starlark.StringDict) string {
	t.Helper()
	s, err := l.Load(name)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	body, err := s.Run(l.NewThread(name), vars)
	if err != nil {
		t.Fatalf("Run(%q): %v", name, err)
	}
	return string(body)
}

func TestRender(t *testing.T) {
	files := map[string]string{
		".aspen/base.html": `<title>{{ block "title" . }}Site{{ end }}</title><main>{{ block "content" . }}empty{{ end }}</main>` + "\n",
		".aspen/nav.html":  `<nav>{{ .request.user.username }}</nav>`,
		"vars.html.spt":    `{{ .request.user.username }}:{{ range .request.messages }}[{{ .text }}]{{ end }}`,
		"once.html.spt":    "count = [0]\nlimit = 3\n^L\ndoubled = limit * 2\n^L\n{{ .limit }} {{ .doubled }}",
		"escape.html.spt":  "s = '<script>alert(1)</script>'\nurl = 'javascript:alert(1)'\n^L\n<p title=\"{{ .s }}\">{{ .s }}</p><a href=\"{{ .url }}\">x</a><script>var v = {{ .s }};</script>",
		"layout.html.spt":  "title = 'Todo'\n^L\n{{ define \"title\" }}{{ .title }} - Site{{ end }}{{ define \"content\" }}{{ template \"nav.html\" . }}<p>{{ .title }}</p>{{ end }}{{ template \"base.html\" . }}",
		"other.html.spt":   `{{ template "base.html" . }}`,
		"plain.txt.spt":    "s = '<b>&'\n^L\n{{ .s }}\n",
		"style.css":        "color = 'red'\n^L\np { color: {{ .color }}; }",
		"shadow.html.spt":  "request = 'page wins'\n^L\n{{ .request }}",
		"types.html.spt":   "d = {'b': 2, 'a': 1}\nt = (1, 'x')\nf = 1.5\nn = None\nok = True\ndef helper(): pass\n^L\n{{ range $k, $v := .d }}{{ $k }}={{ $v }},{{ end }}{{ index .t 1 }} {{ .f }} [{{ .n }}] {{ .ok }} {{ if .helper }}callable{{ else }}no callable{{ end }}",
		"badge.svg.spt":    "s = '<script>alert(1)</script>'\n^L\n<svg xmlns=\"http://www.w3.org/2000/svg\"><text>{{ .s }}</text></svg>",
		"feed.xml.spt":     "s = '<b>&'\n^L\n<title>{{ .s }}</title>",
		"functions.spt":    "def greet(name):\n    return 'hi ' + name\nmsg = greet(request.user.username)\n^L\n{{ .msg }}",
	}
	l := NewLoader(Options{FS: mapFS(files), Globals: []string{"request"}})
	vars := starlark.StringDict{"request": newRequest("alice", "saved", "<b>hi</b>")}
	tests := []struct{ name, want string }{
		{"vars.html.spt", "alice:[saved][&lt;b&gt;hi&lt;/b&gt;]"},
		{"once.html.spt", "3 6"},
		{"escape.html.spt", `<p title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</p><a href="#ZgotmplZ">x</a><script>var v = "\u003cscript\u003ealert(1)\u003c/script\u003e";</script>`},
		{"layout.html.spt", "<title>Todo - Site</title><main><nav>alice</nav><p>Todo</p></main>\n"},
		{"other.html.spt", "<title>Site</title><main>empty</main>\n"}, // layout.html.spt's defines did not leak
		{"plain.txt.spt", "<b>&\n"},
		{"style.css", "p { color: red; }"},
		{"shadow.html.spt", "page wins"},
		{"types.html.spt", "a=1,b=2,x 1.5 [] true no callable"},
		{"functions.spt", "hi alice"},
		// SVG and XML can run script too: they are escaped like HTML.
		{"badge.svg.spt", `<svg xmlns="http://www.w3.org/2000/svg"><text>&lt;script&gt;alert(1)&lt;/script&gt;</text></svg>`},
		{"feed.xml.spt", `<title>&lt;b&gt;&amp;</title>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, l, tt.name, vars); got != tt.want {
				t.Errorf("body:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{
		"a.html.spt": "x", "b.spt": "x", "c.json.spt": "x = 1", "d.json": "\f\nx = 1", "e.css.spt": "x", "f.txt": "\f\n",
	})})
	want := map[string]string{
		"a.html.spt": "text/html; charset=utf-8",
		"b.spt":      "text/plain; charset=utf-8",
		"c.json.spt": "application/json",
		"d.json":     "application/json",
		"e.css.spt":  "text/css; charset=utf-8",
		"f.txt":      "text/plain; charset=utf-8",
	}
	for name, ct := range want {
		s, err := l.Load(name)
		if err != nil {
			t.Fatalf("Load(%q): %v", name, err)
		}
		if s.ContentType != ct || s.Name != name || s.JSON != strings.Contains(name, ".json") {
			t.Errorf("Load(%q): ContentType %q, Name %q, JSON %v; want %q", name, s.ContentType, s.Name, s.JSON, ct)
		}
	}
}

// TestOnceFrozen checks that the once-page's globals are frozen, runs
// once, and cannot see the per-request globals.
func TestOnceFrozen(t *testing.T) {
	calls := 0
	counter := starlark.NewBuiltin("counter", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		calls++
		return starlark.MakeInt(calls), nil
	})
	l := NewLoader(Options{
		FS: mapFS(map[string]string{
			"frozen.spt":  "items = []\nn = counter()\n^L\nitems.append(request)\n^L\n{{ .items }}",
			"count.spt":   "n = counter()\n^L\n^L\n{{ .n }}",
			"request.spt": "x = 1\nr = request\n^L\n^L\n{{ .r }}",
		}),
		Builtins: starlark.StringDict{"counter": counter},
		Globals:  []string{"request"},
		RootName: "www",
	})
	vars := starlark.StringDict{"request": starlark.String("r")}
	s, err := l.Load("frozen.spt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(l.NewThread("t"), vars)
	if err == nil || err.Error() != "www/frozen.spt:4: append: cannot append to frozen list" {
		t.Errorf("Run error = %v; want the frozen list error at line 4", err)
	}
	for range 3 {
		if got := run(t, l, "count.spt", vars); got != "2" {
			t.Errorf("count.spt = %q; want 2 (the once-page runs once per compile)", got)
		}
	}
	if _, err := l.Load("request.spt"); err == nil || err.Error() != "www/request.spt:2: undefined: request" {
		t.Errorf("Load(request.spt) error = %v; want undefined request at line 2", err)
	}
}

func TestRunMissingGlobal(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{"a.spt": "x = request\n^L\n{{ .x }}"}), Globals: []string{"request"}})
	s, err := l.Load("a.spt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(l.NewThread("t"), nil); err == nil || !strings.Contains(err.Error(), "no value for request") {
		t.Errorf("Run without request: %v", err)
	}
}

func TestToGo(t *testing.T) {
	d := starlark.NewDict(2)
	d.SetKey(starlark.String("s"), starlark.String("v"))
	d.SetKey(starlark.MakeInt(7), starlark.None)
	set := starlark.NewSet(2)
	set.Insert(starlark.MakeInt(1))
	set.Insert(starlark.MakeInt(2))
	big1 := new(big.Int).Lsh(big.NewInt(1), 70)
	self := starlark.NewList(nil)
	self.Append(self)
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	st := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"a": starlark.MakeInt(1), "f": starlark.NewBuiltin("f", nil),
	})
	tests := []struct {
		name string
		v    starlark.Value
		want any
	}{
		{"none", starlark.None, nil},
		{"nil", nil, nil},
		{"bool", starlark.True, true},
		{"string", starlark.String("s"), "s"},
		{"bytes", starlark.Bytes("b"), "b"},
		{"int", starlark.MakeInt(-3), int64(-3)},
		{"bigint", starlark.MakeBigInt(big1), big1},
		{"float", starlark.Float(2.5), 2.5},
		{"list", starlark.NewList([]starlark.Value{starlark.MakeInt(1), starlark.String("x")}), []any{int64(1), "x"}},
		{"tuple", starlark.Tuple{starlark.True}, []any{true}},
		{"set", set, []any{int64(1), int64(2)}},
		{"dict", d, map[string]any{"s": "v", "7": nil}},
		{"struct", st, map[string]any{"a": int64(1)}},
		{"callable", starlark.NewBuiltin("f", nil), nil},
		{"time", starlarktime.Time(when), when},
		{"duration", starlarktime.Duration(time.Second), time.Second},
		{"valuer", newRequest("bob"), map[string]any{"user": map[string]any{"username": "bob"}, "messages": []any(nil), "method": "GET"}},
		{"range", mustEval(t, "range(3)"), []any{int64(0), int64(1), int64(2)}},
	}
	for _, tt := range tests {
		got := ToGo(tt.v)
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("ToGo(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	// A list that contains itself ends, cut off at the depth limit.
	depth := 0
	for v := ToGo(self); v != nil; depth++ {
		v = v.([]any)[0]
	}
	if depth != maxDepth+1 {
		t.Errorf("self-containing list converted to depth %d; want %d", depth, maxDepth+1)
	}
}

func mustEval(t *testing.T, expr string) starlark.Value {
	t.Helper()
	v, err := starlark.EvalOptions(fileOptions, &starlark.Thread{}, "expr", expr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPrint(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	l := NewLoader(Options{FS: mapFS(map[string]string{"p.spt": "\nprint('hello', 42)\n^L\n^L\nok"}), Logger: logger, RootName: "www"})
	if _, err := l.Load("p.spt"); err != nil {
		t.Fatal(err)
	}
	want := `level=INFO msg="hello 42" thread=www/p.spt pos=www/p.spt:2:6` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("log:\n got %q\nwant %q", got, want)
	}
}

func TestStepLimit(t *testing.T) {
	l := NewLoader(Options{
		FS: mapFS(map[string]string{
			"loop.spt":         "\n^L\nwhile True:\n    pass\n^L\nnever",
			"once-loop.spt":    "n = 0\nwhile True:\n    n += 1\n^L\n^L\nnever",
			"mod-loop.spt":     "load('spin.star', 'x')\n^L\n^L\n{{ .x }}",
			".aspen/spin.star": "x = 0\nfor i in range(1000000000):\n    x += i\n",
			"ok.spt":           "n = 0\nfor i in range(100):\n    n += i\n^L\n{{ .n }}",
		}),
		MaxSteps: 100_000,
		RootName: "www",
	})
	s, err := l.Load("loop.spt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(l.NewThread("loop"), nil)
	var evalErr *starlark.EvalError
	if err == nil || !errors.As(err, &evalErr) || !strings.Contains(err.Error(), "too many steps") || !strings.HasPrefix(err.Error(), "www/loop.spt:") {
		t.Errorf("runaway per-request page: error %v; want too many steps in www/loop.spt", err)
	}
	if _, err := l.Load("once-loop.spt"); err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Errorf("runaway once-page: Load error %v; want too many steps", err)
	}
	if _, err := l.Load("mod-loop.spt"); err == nil || err.Error() != "www/mod-loop.spt:1: cannot load spin.star: www/.aspen/spin.star:3: Starlark computation cancelled: too many steps" {
		t.Errorf("runaway module: Load error %v; want too many steps in spin.star", err)
	}
	if got := run(t, l, "ok.spt", nil); got != "4950" {
		t.Errorf("ok.spt = %q", got)
	}
}

// TestErrorLines checks that errors carry the line of the whole file.
func TestErrorLines(t *testing.T) {
	files := map[string]string{
		".aspen/base.html":     "<main>\n{{ block \"content\" . }}{{ end }}\n</main>",
		"syntax.html.spt":      "a = 1\nb = 2\n^L\nc = 3\nd = (\n^L\n{{ .c }}",
		"undefined.spt":        "x = 1\n\f\n\ny = x + z\n\f\n{{ .y }}",
		"runtime.spt":          "x = 1\n^L\nd = {}\n\ne = d['missing']\n^L\n{{ .e }}",
		"nested.spt":           "def f(n):\n    return 1 // n\n^L\ny = f(0)\n^L\n{{ .y }}",
		"tparse.html.spt":      "x = 1\n^L\ny = 2\n^L\n<p>\n{{ .y }}\n{{ if .x }}\n",
		"texec.spt":            "\n^L\nx = None\n^L\nline 5\n{{ .x.field }}",
		"tescape.html.spt":     "\n^L\n\n^L\n<a href=\"{{ .x }}\n",
		"tnotemplate.html.spt": "\n^L\n\n^L\n\n{{ template \"nope.html\" . }}",
		"dashes.spt":           "[---]\nx = )\n[---]\n{{ .x }}",
		"midline.spt":          "x = 1\fy = )\f{{ .y }}",
		"abort.spt":            "\n^L\n\nabort(403)\n^L\n",
	}
	abortErr := errors.New("forbidden")
	abort := starlark.NewBuiltin("abort", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return nil, abortErr
	})
	l := NewLoader(Options{FS: mapFS(files), Builtins: starlark.StringDict{"abort": abort}, RootName: "www"})
	tests := []struct{ name, want string }{
		{"syntax.html.spt", "www/syntax.html.spt:5: got end of file, want primary expression"},
		{"undefined.spt", "www/undefined.spt:4: undefined: z"},
		{"runtime.spt", `www/runtime.spt:5: key "missing" not in dict`},
		{"nested.spt", "www/nested.spt:2: floored division by zero"},
		{"tparse.html.spt", "www/tparse.html.spt:8: unexpected EOF"},
		{"texec.spt", `www/texec.spt:6: executing "www/texec.spt" at <.x.field>: nil pointer evaluating interface {}.field`},
		{"tescape.html.spt", "www/tescape.html.spt: ends in a non-text context: {stateURL delimDoubleQuote urlPartNone jsCtxRegexp [] attrURL elementNone <nil>}"},
		{"tnotemplate.html.spt", `www/tnotemplate.html.spt:6: no such template "nope.html"`},
		{"dashes.spt", "www/dashes.spt:2: unexpected ')'"},
		{"midline.spt", "www/midline.spt:1: unexpected ')'"},
		{"abort.spt", "www/abort.spt:4: forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := l.Load(tt.name)
			if err == nil {
				_, err = s.Run(l.NewThread(tt.name), nil)
			}
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
	// Escaping errors and missing templates are found at compile time.
	for _, name := range []string{"tescape.html.spt", "tnotemplate.html.spt"} {
		if _, err := l.Load(name); err == nil {
			t.Errorf("Load(%s) succeeded; want its template error", name)
		}
	}
	// A runtime error keeps the EvalError (for its backtrace) and the
	// builtin's own error (for abort's response).
	s, _ := l.Load("abort.spt")
	_, err := s.Run(l.NewThread("t"), nil)
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) || !strings.Contains(evalErr.Backtrace(), "www/abort.spt:4:6: in <toplevel>") {
		t.Errorf("no EvalError with a backtrace in %v", err)
	}
	if !errors.Is(err, abortErr) {
		t.Errorf("error %v does not wrap the builtin's error", err)
	}
}

func TestRenderTemplate(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{
		".aspen/base.html":  `<h1>{{ block "content" . }}{{ end }}</h1>`,
		".aspen/404.html":   `{{ define "content" }}Not found: {{ .path }}{{ end }}{{ template "base.html" . }}`,
		".aspen/error.html": `{{ define "content" }}Error {{ .code }}{{ end }}{{ template "base.html" . }}`,
	}), RootName: "www"})
	tests := []struct {
		name string
		data map[string]any
		want string
	}{
		{"404.html", map[string]any{"path": "<x>"}, "<h1>Not found: &lt;x&gt;</h1>"},
		{"error.html", map[string]any{"code": 500}, "<h1>Error 500</h1>"},
		{"404.html", map[string]any{"path": "/again"}, "<h1>Not found: /again</h1>"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := l.RenderTemplate(&buf, tt.name, tt.data); err != nil {
			t.Fatalf("RenderTemplate(%s): %v", tt.name, err)
		}
		if buf.String() != tt.want {
			t.Errorf("RenderTemplate(%s) = %q; want %q", tt.name, buf.String(), tt.want)
		}
	}
	err := l.RenderTemplate(&bytes.Buffer{}, "403.html", nil)
	if !IsNoTemplate(err) || err.Error() != "www/.aspen/403.html: no such template" {
		t.Errorf("missing template: %v", err)
	}
	if IsNoTemplate(fmt.Errorf("other")) {
		t.Errorf("IsNoTemplate(other) = true")
	}
}

// An error page's defines belong to it alone: a simplate that relies on
// base.html's default block must not get the error page's content.
func TestErrorPagesDoNotLeakDefines(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{
		".aspen/base.html":  `<h1>{{ block "content" . }}default{{ end }}</h1>`,
		".aspen/error.html": `{{ define "content" }}Error {{ .code }}{{ end }}{{ template "base.html" . }}`,
		".aspen/500.html":   `{{ define "content" }}Broken{{ end }}{{ template "base.html" . }}`,
		"page.html.spt":     `{{ template "base.html" . }}`,
	})})
	s, err := l.Load("page.html.spt")
	if err != nil {
		t.Fatal(err)
	}
	body, err := s.Run(l.NewThread("t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(body), "<h1>default</h1>"; got != want {
		t.Errorf("page = %q, want %q", got, want)
	}
}

func TestSharedTemplateError(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{
		".aspen/base.html": "<p>\n{{ .x }\n",
		"page.html.spt":    "hello",
		"page.txt.spt":     "hello",
	}), RootName: "www"})
	want := `www/.aspen/base.html:2: unexpected "}" in operand`
	if _, err := l.Load("page.html.spt"); err == nil || err.Error() != want {
		t.Errorf("HTML simplate: error %v; want %q", err, want)
	}
	if _, err := l.Load("page.txt.spt"); err != nil {
		t.Errorf("text simplate: %v; want no error (it does not use .aspen templates)", err)
	}
	if err := l.RenderTemplate(&bytes.Buffer{}, "base.html", nil); err == nil || err.Error() != want {
		t.Errorf("RenderTemplate: %v; want %q", err, want)
	}
}

func TestCheckAll(t *testing.T) {
	l := NewLoader(Options{FS: mapFS(map[string]string{
		".aspen/good.star":   "def f(): return 1\n",
		".aspen/bad.star":    "x = \n",
		".aspen/base.html":   "ok",
		".aspen/hooks.conf":  "not checked",
		".hidden/broken.spt": "x = )\n^L\n",
		"a/ok.html.spt":      "x = 1\n^L\n{{ .x }}",
		"a/b/syntax.spt":     "\n\nx = (\n^L\n",
		"c.html.spt":         "x = 1\n^L\ny = 2\n^L\n{{ .z }\n",
		"d.spt":              "load('bad.star', 'x')\n^L\n^L\n",
		"e.spt":              "1\n^L\n2\n^L\n3\n^L\n4",
		"static.html":        "<p>fine</p>",
		"image.png":          "\f\f\f\f",
	}), RootName: "www"})
	var got []string
	for _, err := range l.CheckAll() {
		got = append(got, err.Error())
	}
	want := []string{
		"www/.aspen/bad.star:1: got newline, want primary expression",
		"www/a/b/syntax.spt:3: got end of file, want primary expression",
		`www/c.html.spt:5: unexpected "}" in operand`,
		"www/d.spt:1: cannot load bad.star: www/.aspen/bad.star:1: got newline, want primary expression",
		"www/e.spt:6: page 4: too many pages: a simplate has at most 3 pages (Starlark run once, Starlark run per request, template)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckAll mismatch (-want +got):\n%s", diff)
	}
}
