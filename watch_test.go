package aspengo

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// newTestWebsite starts a website at root that logs into the test's log.
func newTestWebsite(t *testing.T, root string, tweak func(*Config)) *Website {
	t.Helper()
	cfg := Config{Root: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	return startWebsite(t, cfg)
}

func get(w *Website, path string) (int, string) {
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestWatchNextRequest checks that with the watcher on, every change is
// served by the very next request, with no pause between the write and
// the request: an edited page, template and module, a new file, a new
// directory with a file in it, a removed file.
func TestWatchNextRequest(t *testing.T) {
	root := writeSite(t, map[string]string{
		".aspen/base.html":    `{{ define "base" }}[{{ template "content" . }}]{{ end }}`,
		".aspen/helpers.star": "def word():\n    return \"w0\"\n",
		"page.html.spt":       "[---]\n[---]\np0",
		"tpl.html.spt":        "[---]\n[---]\n{{ define \"content\" }}c{{ end }}{{ template \"base\" . }}",
		"mod.html.spt":        "[---]\nload(\"helpers.star\", \"word\")\nw = word()\n[---]\n{{ .w }}",
	})
	w := newTestWebsite(t, root, nil)
	if _, ok := w.watch.Changes(); !ok {
		t.Fatal("the watcher is not running")
	}
	check := func(path, want string) {
		t.Helper()
		if code, body := get(w, path); code != 200 || body != want {
			t.Fatalf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}
	for i := 1; i <= 30; i++ {
		// The size changes with i, so that a change is seen even within
		// the file system's time granularity.
		x := strings.Repeat("x", i)
		writeFile(t, filepath.Join(root, "page.html.spt"), "[---]\n[---]\np"+x)
		check("/page.html", "p"+x)
		writeFile(t, filepath.Join(root, "s.txt"), "s"+x)
		check("/s.txt", "s"+x)
		writeFile(t, filepath.Join(root, ".aspen/base.html"), `{{ define "base" }}`+x+`{{ template "content" . }}{{ end }}`)
		check("/tpl.html", x+"c")
		writeFile(t, filepath.Join(root, ".aspen/helpers.star"), "def word():\n    return \""+x+"\"\n")
		check("/mod.html", x)
		name := fmt.Sprintf("new%d.txt", i)
		if code, _ := get(w, "/"+name); code != 404 {
			t.Fatalf("GET /%s before it exists: %d", name, code)
		}
		writeFile(t, filepath.Join(root, name), x)
		check("/"+name, x)
		dir := fmt.Sprintf("dir%d", i)
		if code, _ := get(w, "/"+dir+"/a.txt"); code != 404 {
			t.Fatalf("GET /%s/a.txt before it exists: %d", dir, code)
		}
		writeFile(t, filepath.Join(root, dir, "sub", "a.txt"), x)
		check("/"+dir+"/sub/a.txt", x)
		writeFile(t, filepath.Join(root, dir, "sub", "b.txt"), x+"b")
		check("/"+dir+"/sub/b.txt", x+"b")
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
		if code, _ := get(w, "/"+name); code != 404 {
			t.Fatalf("GET /%s after removing it: %d", name, code)
		}
	}
	if _, ok := w.watch.Changes(); !ok {
		t.Error("the watcher gave up")
	}
}

// TestWatchFallback checks that where the watcher cannot be trusted (a
// symbolic link in the tree, or watching turned off) every request checks
// the files, so changes are still served at once.
func TestWatchFallback(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, root string)
		tweak func(*Config)
	}{
		{"symlink", func(t *testing.T, root string) {
			if err := os.Symlink("page.html.spt", filepath.Join(root, "link.html.spt")); err != nil {
				t.Skip("no symbolic links here:", err)
			}
		}, nil},
		{"NoWatch", func(*testing.T, string) {}, func(c *Config) { c.NoWatch = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := writeSite(t, map[string]string{"page.html.spt": "[---]\n[---]\np0"})
			tt.setup(t, root)
			w := newTestWebsite(t, root, tt.tweak)
			if _, ok := w.watch.Changes(); ok {
				t.Fatal("the watcher is trusted")
			}
			for i := 1; i <= 5; i++ {
				want := "p" + strings.Repeat("x", i)
				writeFile(t, filepath.Join(root, "page.html.spt"), "[---]\n[---]\n"+want)
				if _, body := get(w, "/page.html"); body != want {
					t.Fatalf("after edit %d: %q, want %q", i, body, want)
				}
			}
		})
	}
}

// TestWatchSymlinkLater checks that a link created while serving stops
// the trust in the watcher.
func TestWatchSymlinkLater(t *testing.T) {
	root := writeSite(t, map[string]string{"a.txt": "a"})
	w := newTestWebsite(t, root, nil)
	if err := os.Symlink("a.txt", filepath.Join(root, "b.txt")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if _, body := get(w, "/b.txt"); body != "a" {
		t.Fatalf("GET /b.txt = %q", body)
	}
	if _, ok := w.watch.Changes(); ok {
		t.Error("the watcher is still trusted after a link appeared")
	}
}

// TestWatchFsnotify checks the portable backend: the count moves after a
// write, once fsnotify's goroutine has read the event (this backend does
// not promise the very next request).
func TestWatchFsnotify(t *testing.T) {
	root := writeSite(t, map[string]string{"a.txt": "a", "d/b.txt": "b", ".hidden/c.txt": "c"})
	var notified atomic.Int64
	cw := newFsnotifyWatcher(root, slog.New(slog.DiscardHandler), func(string) { notified.Add(1) })
	if cw == nil {
		t.Skip("fsnotify cannot watch here")
	}
	defer cw.Close()
	n0, ok := cw.Changes()
	if !ok {
		t.Fatal("not trusted after start")
	}
	waitMove := func(what string, n uint64) uint64 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, _ := cw.Changes()
			if m != n {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the count did not move", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	writeFile(t, filepath.Join(root, "d", "b.txt"), "bb")
	n1 := waitMove("write in a subdirectory", n0)
	writeFile(t, filepath.Join(root, "new", "e.txt"), "e")
	n2 := waitMove("new directory", n1)
	writeFile(t, filepath.Join(root, "new", "e.txt"), "ee")
	waitMove("write in the new directory", n2)
	if notified.Load() == 0 {
		t.Error("notify was not called")
	}
}

// countFS counts the calls that look at files.
type countFS struct {
	fs.FS
	n atomic.Int64
}

func (c *countFS) Open(name string) (fs.File, error) { c.n.Add(1); return c.FS.Open(name) }
func (c *countFS) Stat(name string) (fs.FileInfo, error) {
	c.n.Add(1)
	return fs.Stat(c.FS, name)
}
func (c *countFS) ReadDir(name string) ([]fs.DirEntry, error) {
	c.n.Add(1)
	return fs.ReadDir(c.FS, name)
}

// TestDispatchCache checks that the cache answers without looking at the
// files while the checkpoint stays, that it looks again when it moves,
// and that it is not used without a checkpoint.
func TestDispatchCache(t *testing.T) {
	fsys := &countFS{FS: fstest.MapFS{
		"a/index.html":  {Data: []byte("x")},
		"%id/page.html": {Data: []byte("y")},
		"b.html.spt":    {Data: []byte("z")},
	}}
	var c dispatchCache
	paths := []string{"/a/", "/a", "/7/page.html", "/b.html", "/nope"}
	want := map[string]string{}
	for _, p := range paths {
		res, err := dispatch(fsys, p)
		want[p] = fmt.Sprint(res, err)
	}
	for _, tt := range []struct {
		cp        uint64
		wantCalls bool
	}{{0, true}, {0, true}, {5, true}, {5, false}, {6, true}, {6, false}, {5, true}} {
		fsys.n.Store(0)
		for _, p := range paths {
			res, err := c.get(fsys, p, tt.cp)
			if got := fmt.Sprint(res, err); got != want[p] {
				t.Errorf("cp %d: get(%s) = %s, want %s", tt.cp, p, got, want[p])
			}
		}
		if got := fsys.n.Load() > 0; got != tt.wantCalls {
			t.Errorf("cp %d: looked at files: %v, want %v", tt.cp, got, tt.wantCalls)
		}
	}
}
