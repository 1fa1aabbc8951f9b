package simplate

import (
	"io"
	"io/fs"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"go.starlark.net/starlark"
)

// statFS counts the calls that look at files.
type statFS struct {
	fs.FS
	n atomic.Int64
}

func (c *statFS) Open(name string) (fs.File, error) { c.n.Add(1); return c.FS.Open(name) }
func (c *statFS) Stat(name string) (fs.FileInfo, error) {
	c.n.Add(1)
	return fs.Stat(c.FS, name)
}

// TestChangesSkipChecks checks Options.Changes: while the count stays and
// is trusted, Load, Module and the shared templates look at no file; when
// it moves, or is not trusted, they check again and see the change.
func TestChangesSkipChecks(t *testing.T) {
	mfs := fstest.MapFS{
		"p.html.spt":    {Data: []byte("[---]\nload(\"h.star\", \"v\")\n[---]\n{{ template \"t.html\" . }}{{ .v }}")},
		".aspen/t.html": {Data: []byte("T")},
		".aspen/h.star": {Data: []byte("v = 1\n")},
	}
	fsys := &statFS{FS: mfs}
	var count atomic.Uint64
	var trusted atomic.Bool
	trusted.Store(true)
	l := NewLoader(Options{FS: fsys, Globals: []string{"request"}, Changes: func() (uint64, bool) {
		return count.Load(), trusted.Load()
	}})
	render := func() string {
		t.Helper()
		s, err := l.Load("p.html.spt")
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Run(l.NewThread("t"), starlark.StringDict{"request": starlark.None})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := render(); got != "T1" {
		t.Fatalf("first render %q", got)
	}
	fsys.n.Store(0)
	for range 3 {
		render()
		if _, err := l.Module("h.star"); err != nil {
			t.Fatal(err)
		}
		l.RenderTemplate(io.Discard, "t.html", nil)
	}
	if n := fsys.n.Load(); n != 0 {
		t.Errorf("%d file calls with an unchanged count, want 0", n)
	}
	mfs[".aspen/h.star"] = &fstest.MapFile{Data: []byte("v = 22\n")}
	mfs[".aspen/t.html"] = &fstest.MapFile{Data: []byte("TT")}
	if got := render(); got != "T1" {
		// Not a promise to serve stale files: the count is what says a
		// file changed, and here nobody moved it.
		t.Fatalf("render with an unmoved count %q, want the cached T1", got)
	}
	count.Add(1)
	if got := render(); got != "TT22" {
		t.Errorf("render after the count moved %q, want TT22", got)
	}
	trusted.Store(false)
	mfs[".aspen/h.star"] = &fstest.MapFile{Data: []byte("v = 333\n")}
	fsys.n.Store(0)
	if got := render(); got != "TT333" {
		t.Errorf("render with an untrusted count %q, want TT333", got)
	}
	if fsys.n.Load() == 0 {
		t.Error("no file checked with an untrusted count")
	}
}
