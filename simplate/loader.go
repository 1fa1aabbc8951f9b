package simplate

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	starlarkmath "go.starlark.net/lib/math"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/internal/budget"
)

// DefaultMaxSteps is the Starlark step limit used when Options.MaxSteps
// is 0: enough for any page, small enough that a runaway loop ends within
// about a second.
const DefaultMaxSteps = 10_000_000

// aspenDir is the directory, relative to the root, of shared templates
// and Starlark modules.
const aspenDir = ".aspen"

// fileOptions are the Starlark dialect of modules.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
}

// pageOptions are the Starlark dialect of simplate pages: that of modules,
// and load() binds global names, so that what the once-page loads is
// visible to the per-request page, as Python imports were in Aspen.
var pageOptions = &syntax.FileOptions{
	Set:               true,
	While:             true,
	TopLevelControl:   true,
	GlobalReassign:    true,
	LoadBindsGlobally: true,
}

// Options configure a [Loader].
type Options struct {
	// FS is the www root: os.Root.FS() in production, fstest.MapFS in
	// tests. Shared templates are .aspen/*.html, modules .aspen/*.star.
	FS fs.FS
	// Builtins are the names every page and module sees (abort,
	// connect, login ...). The Loader adds the Starlark modules json,
	// time and math unless Builtins has those names. They are frozen.
	Builtins starlark.StringDict
	// Globals are the names whose values are supplied per request, to
	// [Simplate.Run] (request, response, website). The per-request page
	// may use them; the once-page and modules may not.
	Globals []string
	// MaxSteps is the Starlark step limit of one execution: a once-page,
	// the loading of a module, and every thread made by NewThread (one
	// request). 0 means DefaultMaxSteps.
	MaxSteps uint64
	// MaxAlloc is the memory budget in bytes of every thread made by
	// NewThread (one request); see package internal/budget. 0 means
	// budget.DefaultLimit.
	MaxAlloc int64
	// Logger receives what Starlark code prints. nil means slog.Default().
	Logger *slog.Logger
	// RootName is shown before file names in error messages and Starlark
	// positions, as "www" in "www/foo.html.spt:7: undefined: x". Empty
	// shows the names relative to the root.
	RootName string
	// Changes, when not nil, reports a count of the changes made under
	// the root so far, and whether that count can be trusted (a file
	// watcher is running). While it can, a file checked at one count is
	// not checked again until the count moves, so that serving an
	// unchanged file costs no stat. When nil, or untrusted, every Load
	// checks modification times.
	Changes func() (count uint64, ok bool)
}

// A Loader compiles and caches the simplates and modules of a www root.
// Its methods may be called from many goroutines at once.
type Loader struct {
	fsys      fs.FS
	base      starlark.StringDict // Builtins plus json, time, math; frozen
	globals   map[string]bool     // Options.Globals
	maxSteps  uint64
	maxAlloc  int64
	log       *slog.Logger
	rootName  string
	changes   func() (uint64, bool)
	simplates sync.Map // file name → *entry

	modMu sync.RWMutex
	mods  map[string]*module // by file name in .aspen, "helpers.star"

	tplMu sync.RWMutex
	tpl   *tplSet
}

// NewLoader returns a Loader for opts. It reads nothing until it is used.
func NewLoader(opts Options) *Loader {
	l := &Loader{
		fsys:     opts.FS,
		base:     starlark.StringDict{"json": jsonModule, "time": starlarktime.Module, "math": starlarkmath.Module},
		globals:  map[string]bool{},
		maxSteps: opts.MaxSteps,
		maxAlloc: opts.MaxAlloc,
		log:      opts.Logger,
		rootName: opts.RootName,
		changes:  opts.Changes,
		mods:     map[string]*module{},
	}
	for name, v := range budget.Builtins() {
		l.base[name] = v // checked str, list ... and what rewritten code calls
	}
	for name, v := range opts.Builtins {
		l.base[name] = v
	}
	l.base.Freeze()
	for _, name := range opts.Globals {
		l.globals[name] = true
	}
	if l.maxSteps == 0 {
		l.maxSteps = DefaultMaxSteps
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// shown returns the name of the file at name (relative to the root) as
// messages show it.
func (l *Loader) shown(name string) string {
	if l.rootName == "" {
		return name
	}
	return path.Join(l.rootName, name)
}

// checkpoint returns the current change count plus one, or 0 when no
// count can be trusted: a value that was checked at a non-zero checkpoint
// needs no new check while the checkpoint stays the same. The count is
// read before the files are checked, so that a change made during the
// check moves it past what the check recorded.
func (l *Loader) checkpoint() uint64 {
	if l.changes == nil {
		return 0
	}
	n, ok := l.changes()
	if !ok {
		return 0
	}
	return n + 1
}

// checked reports whether a value last checked at *at is current without
// a new check, at checkpoint cp.
func checked(at *atomic.Uint64, cp uint64) bool {
	return cp != 0 && at.Load() == cp
}

// stamp identifies one version of a file: a change of modification time
// or size is a new version.
type stamp struct {
	exists  bool
	modTime int64 // UnixNano
	size    int64
	mode    fs.FileMode
}

// stat returns the stamp of the file at name; a file that cannot be
// stat'ed has the zero stamp.
func (l *Loader) stat(name string) stamp {
	fi, err := fs.Stat(l.fsys, name)
	if err != nil {
		return stamp{}
	}
	return stampOf(fi)
}

func stampOf(fi fs.FileInfo) stamp {
	return stamp{exists: true, modTime: fi.ModTime().UnixNano(), size: fi.Size(), mode: fi.Mode()}
}

// NewThread returns a Starlark thread for one request (or one hook call):
// load() reads modules from .aspen, print() goes to the logger, and the
// step limit is set. The caller may set thread locals and cancel it.
func (l *Loader) NewThread(name string) *starlark.Thread {
	t := &starlark.Thread{Name: name, Print: l.print, Load: l.threadLoad}
	t.SetMaxExecutionSteps(l.maxSteps)
	budget.Install(t, l.maxAlloc)
	return t
}

// MaxSteps returns the step limit of one execution.
func (l *Loader) MaxSteps() uint64 { return l.maxSteps }

// print is the Starlark print function of every thread of l.
func (l *Loader) print(thread *starlark.Thread, msg string) {
	attrs := []any{"thread", thread.Name}
	if thread.CallStackDepth() > 1 {
		attrs = append(attrs, "pos", thread.CallFrame(1).Pos.String())
	}
	l.log.Info(msg, attrs...)
}

// entry caches the current version of one file.
type entry struct {
	mu  sync.Mutex // held while compiling
	cur atomic.Pointer[version]
}

// version is the result of compiling one version of a file.
type version struct {
	st   stamp
	s    *Simplate
	err  error
	tpl  *tplSet // the shared templates compiled in; nil if none
	deps []dep   // modules loaded by the once-page

	checked atomic.Uint64 // the checkpoint of the last check; see Loader.checkpoint
}

// Load returns the compiled simplate for the file at name, a slash-
// separated path relative to the root. It compiles the file on first use
// and again whenever the file, a shared template (.aspen/*.html, for an
// HTML simplate) or a module its once-page loaded has changed, checking
// modification times and sizes, on every call unless Options.Changes
// says that nothing changed since the last check. A file that is not a
// simplate gives ErrNotSimplate; a broken one gives its compile errors,
// until it is fixed. Both outcomes are cached like a compiled simplate.
//
// A file is a simplate when its name ends in .spt, or when it is a text
// file (text/* or JSON, by extension) that holds a page break.
func (l *Loader) Load(name string) (*Simplate, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, fmt.Errorf("simplate: invalid file name %q", name)
	}
	cp := l.checkpoint()
	if cp != 0 {
		if e, ok := l.simplates.Load(name); ok {
			if v := e.(*entry).cur.Load(); v != nil && checked(&v.checked, cp) {
				return v.s, v.err
			}
		}
	}
	fi, err := fs.Stat(l.fsys, name)
	if err != nil {
		l.simplates.Delete(name)
		return nil, err
	}
	if fi.IsDir() {
		return nil, ErrNotSimplate
	}
	st := stampOf(fi)
	e := l.entry(name)
	if v := e.cur.Load(); v != nil && l.fresh(v, st) {
		v.checked.Store(cp)
		return v.s, v.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if v := e.cur.Load(); v != nil && l.fresh(v, st) {
		v.checked.Store(cp)
		return v.s, v.err
	}
	v := l.compile(name, st)
	v.checked.Store(cp)
	e.cur.Store(v)
	return v.s, v.err
}

func (l *Loader) entry(name string) *entry {
	if e, ok := l.simplates.Load(name); ok {
		return e.(*entry)
	}
	e, _ := l.simplates.LoadOrStore(name, new(entry))
	return e.(*entry)
}

// fresh reports whether v, compiled from the file version st, is still
// current: the file, the shared templates and the modules it used are
// unchanged.
func (l *Loader) fresh(v *version, st stamp) bool {
	if v.st != st {
		return false
	}
	if v.tpl != nil && l.templates() != v.tpl {
		return false
	}
	if len(v.deps) > 0 {
		l.modMu.RLock()
		defer l.modMu.RUnlock()
		return l.depsFresh(v.deps)
	}
	return true
}

// Walk loads every simplate under the root, skipping files and
// directories whose name starts with "." and files that are not
// simplates, and calls fn with the path of each and the simplate, or the
// error that loading it gave. A directory that cannot be read is passed
// to fn as an error too; Walk's own error is fs.WalkDir's.
func (l *Loader) Walk(fn func(path string, s *Simplate, err error)) error {
	return fs.WalkDir(l.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fn(p, nil, err)
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		s, err := l.Load(p)
		if !errors.Is(err, ErrNotSimplate) {
			fn(p, s, err)
		}
		return nil
	})
}

// CheckAll compiles every simplate under the root (skipping files and
// directories whose name starts with "."), every .aspen/*.star module and
// the shared templates, and returns every error found, each located as
// "file:line: message". Identical errors are reported once.
func (l *Loader) CheckAll() []error {
	var errs []error
	seen := map[string]bool{}
	add := func(err error) {
		for _, e := range flatten(err) {
			if !seen[e.Error()] {
				seen[e.Error()] = true
				errs = append(errs, e)
			}
		}
	}
	if t := l.templates(); t.err != nil {
		add(t.err)
	}
	if ents, err := fs.ReadDir(l.fsys, aspenDir); err == nil {
		for _, d := range ents {
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".star") || checkModuleName(d.Name()) != nil {
				continue
			}
			if _, err := l.Module(d.Name()); err != nil {
				add(err)
			}
		}
	}
	walkErr := l.Walk(func(_ string, _ *Simplate, err error) {
		if err != nil {
			add(err)
		}
	})
	if walkErr != nil {
		add(walkErr)
	}
	return errs
}
