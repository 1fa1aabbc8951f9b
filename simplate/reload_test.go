package simplate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// site is a www root in a temporary directory whose files get distinct,
// increasing modification times.
type site struct {
	t     testing.TB
	dir   string
	clock time.Time
}

func newSite(t testing.TB, files map[string]string) *site {
	s := &site{t: t, dir: t.TempDir(), clock: time.Now().Add(-time.Hour)}
	for name, data := range files {
		s.write(name, data)
	}
	return s
}

// write writes the file name, giving it a modification time later than
// any before.
func (s *site) write(name, data string) {
	s.t.Helper()
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.clock = s.clock.Add(time.Second)
	if err := os.Chtimes(p, s.clock, s.clock); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) loader() *Loader {
	return NewLoader(Options{FS: os.DirFS(s.dir), Globals: []string{"request"}, RootName: "www"})
}

func TestHotReload(t *testing.T) {
	s := newSite(t, map[string]string{
		".aspen/base.html":  `<b>{{ block "content" . }}{{ end }}</b>`,
		".aspen/lib.star":   "load('inner.star', 'inner')\ndef word():\n    return 'lib1-' + inner\n",
		".aspen/inner.star": "inner = 'in1'\n",
		".aspen/req.star":   "def tag():\n    return 'req1'\n",
		"page.html.spt":     "load('lib.star', 'word')\nw = word()\n^L\nload('req.star', 'tag')\nt = tag()\n^L\n{{ define \"content\" }}{{ .w }} {{ .t }} v1{{ end }}{{ template \"base.html\" . }}",
		"static.html":       "<p>static</p>",
	})
	l := s.loader()
	check := func(want string) {
		t.Helper()
		if got := run(t, l, "page.html.spt", starlark.StringDict{"request": starlark.None}); got != want {
			t.Errorf("body = %q; want %q", got, want)
		}
	}
	check("<b>lib1-in1 req1 v1</b>")

	s.write("page.html.spt", "load('lib.star', 'word')\nw = word()\n^L\nload('req.star', 'tag')\nt = tag()\n^L\n{{ define \"content\" }}{{ .w }} {{ .t }} v2{{ end }}{{ template \"base.html\" . }}")
	check("<b>lib1-in1 req1 v2</b>")

	s.write(".aspen/base.html", `<i>{{ block "content" . }}{{ end }}</i>`)
	check("<i>lib1-in1 req1 v2</i>")

	s.write(".aspen/lib.star", "load('inner.star', 'inner')\ndef word():\n    return 'lib2-' + inner\n")
	check("<i>lib2-in1 req1 v2</i>")

	s.write(".aspen/inner.star", "inner = 'in2'\n") // loaded by a module the once-page loaded
	check("<i>lib2-in2 req1 v2</i>")

	s.write(".aspen/req.star", "def tag():\n    return 'req2'\n") // loaded per request
	check("<i>lib2-in2 req2 v2</i>")

	// A broken page reports its error until it is fixed.
	s.write("page.html.spt", "w = (\n^L\n")
	if _, err := l.Load("page.html.spt"); err == nil || err.Error() != "www/page.html.spt:1: got end of file, want primary expression" {
		t.Errorf("broken page: error %v", err)
	}
	s.write("page.html.spt", "x = 'fixed'\n^L\n{{ template \"extra.html\" . }}")
	if _, err := l.Load("page.html.spt"); err == nil || err.Error() != `www/page.html.spt:3: no such template "extra.html"` {
		t.Errorf("page using a missing shared template: error %v", err)
	}
	s.write(".aspen/extra.html", "extra {{ .x }}") // a new shared template
	check("extra fixed")

	// A static file becomes a simplate when it gains a page break, and
	// Load reports a removed file.
	if _, err := l.Load("static.html"); !errors.Is(err, ErrNotSimplate) {
		t.Errorf("static.html: %v; want ErrNotSimplate", err)
	}
	s.write("static.html", "n = 1 + 1\n^L\n<p>{{ .n }}</p>")
	if got := run(t, l, "static.html", starlark.StringDict{"request": starlark.None}); got != "<p>2</p>" {
		t.Errorf("static.html as a simplate = %q", got)
	}
	if err := os.Remove(filepath.Join(s.dir, "static.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load("static.html"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed file: %v; want fs.ErrNotExist", err)
	}
}

func TestModuleReload(t *testing.T) {
	s := newSite(t, map[string]string{".aspen/db.star": "name = 'one'\n"})
	l := s.loader()
	for i, want := range []string{"one", "two"} {
		if i > 0 {
			s.write(".aspen/db.star", "name = 'two'\n")
		}
		g, err := l.Module("db.star")
		if err != nil {
			t.Fatal(err)
		}
		if got := string(g["name"].(starlark.String)); got != want {
			t.Errorf("name = %q; want %q", got, want)
		}
	}
}

// TestCompileOnce checks that a simplate and the module it loads are
// compiled once however many goroutines ask for them at the same time.
func TestCompileOnce(t *testing.T) {
	var compiles, modLoads atomic.Int64
	count := func(n *atomic.Int64) *starlark.Builtin {
		return starlark.NewBuiltin("count", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.MakeInt64(n.Add(1)), nil
		})
	}
	l := NewLoader(Options{
		FS: mapFS(map[string]string{
			".aspen/m.star": "loads = count_module()\n",
			"page.spt":      "load('m.star', 'loads')\nn = count_compile()\n^L\nr = request + 1\n^L\n{{ .n }} {{ .loads }} {{ .r }}",
		}),
		Builtins: starlark.StringDict{"count_compile": count(&compiles), "count_module": count(&modLoads)},
		Globals:  []string{"request"},
	})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				got := run(t, l, "page.spt", starlark.StringDict{"request": starlark.MakeInt(g*100 + i)})
				if want := fmt.Sprintf("1 1 %d", g*100+i+1); got != want {
					t.Errorf("body %q; want %q", got, want)
				}
			}
		})
	}
	wg.Wait()
	if compiles.Load() != 1 || modLoads.Load() != 1 {
		t.Errorf("compiled %d times, module loaded %d times; want 1 and 1", compiles.Load(), modLoads.Load())
	}
}

// TestConcurrentReload runs pages from many goroutines while their files,
// a shared template and a module change underneath.
func TestConcurrentReload(t *testing.T) {
	s := newSite(t, nil)
	writeAll := func(n int) {
		// Write to a temporary file and rename, so that readers never see
		// a half-written file.
		for name, data := range map[string]string{
			".aspen/base.html": fmt.Sprintf("T%d {{ template \"body\" . }}", n),
			".aspen/m.star":    fmt.Sprintf("def m():\n    return 'M%d'\n", n),
			"a.html.spt":       fmt.Sprintf("load('m.star', 'm')\nmv = m()\n^L\nr = request\n^L\n{{ define \"body\" }}P%d {{ .mv }} {{ .r }}{{ end }}{{ template \"base.html\" . }}", n),
		} {
			tmp := path.Join(path.Dir(name), ".tmp-"+path.Base(name))
			s.write(tmp, data)
			if err := os.Rename(filepath.Join(s.dir, tmp), filepath.Join(s.dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeAll(0)
	l := s.loader()
	valid := regexp.MustCompile(`^T\d+ P\d+ M\d+ req$`)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				sp, err := l.Load("a.html.spt")
				if err != nil {
					t.Errorf("Load: %v", err)
					return
				}
				body, err := sp.Run(l.NewThread("t"), starlark.StringDict{"request": starlark.String("req")})
				if err != nil || !valid.Match(body) {
					t.Errorf("Run = %q, %v", body, err)
					return
				}
			}
		})
	}
	for n := 1; n <= 20; n++ {
		writeAll(n)
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if got := run(t, l, "a.html.spt", starlark.StringDict{"request": starlark.String("req")}); got != "T20 P20 M20 req" {
		t.Errorf("after the last change: %q; want T20 P20 M20 req", got)
	}
}

// TestCycleCached checks that a load cycle is reported from the cache
// until a file of the cycle changes, and that fixing it heals every
// module involved.
func TestCycleCached(t *testing.T) {
	s := newSite(t, map[string]string{
		".aspen/a.star": "load('b.star', 'b')\na = 'a'\n",
		".aspen/b.star": "load('a.star', 'a')\nb = 'b'\n",
		"a.spt":         "load('a.star', 'a')\n^L\n^L\n{{ .a }}",
		"b.spt":         "load('b.star', 'b')\n^L\n^L\n{{ .b }}",
	})
	l := s.loader()
	_, err1 := l.Load("a.spt")
	_, err2 := l.Load("a.spt")
	if err1 == nil || err1 != err2 {
		t.Fatalf("Load twice: %v and %v; want the same cached cycle error", err1, err2)
	}
	s.write(".aspen/a.star", "a = 'fixed'\n")
	vars := starlark.StringDict{"request": starlark.None}
	if got := run(t, l, "a.spt", vars); got != "fixed" {
		t.Errorf("a.spt = %q", got)
	}
	if got := run(t, l, "b.spt", vars); got != "b" {
		t.Errorf("b.spt = %q", got)
	}
}
