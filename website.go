package aspengo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 10 << 20

// DefaultRequestTimeout is the time limit of one request when
// Config.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second

// Config configures a Website.
type Config struct {
	// Root is the www root: the directory whose files are the site.
	Root string
	// HooksFile is the hooks.conf to read. Empty means
	// Root/.aspen/hooks.conf, which may be absent (no hooks); a file named
	// here must exist.
	HooksFile string
	// Registry supplies built-in hooks and Starlark builtins; nil means an
	// empty one.
	Registry *Registry
	// ShowTracebacks puts the traceback of a 500 into the error page.
	// Tracebacks are always logged.
	ShowTracebacks bool
	// Logger receives errors and Starlark print output; nil means
	// slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (413 beyond it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// TrustedOrigins are origins ("https://admin.example.com") whose
	// cross-origin POSTs and other unsafe requests are accepted; all other
	// cross-origin unsafe requests are refused with a 403
	// (http.CrossOriginProtection), which stops cross-site form posts.
	TrustedOrigins []string
	// MaxSteps bounds the Starlark steps of one execution, so that a
	// runaway loop ends as a 500; 0 means the simplate package's default.
	MaxSteps uint64
	// RequestTimeout bounds the wall-clock time of one request, hooks
	// included: past it, the request's context is done, its Starlark is
	// cancelled (also inside long built-in calls) and it answers 503,
	// logged once. 0 means DefaultRequestTimeout; negative means none.
	RequestTimeout time.Duration
	// MaxRequestMemory is what the Starlark code of one request may
	// allocate, in bytes, as estimated by the checked operators and
	// built-ins that every page and module is compiled with; beyond it
	// the request is a 500 that names the limit. 0 means 64 MiB.
	MaxRequestMemory int64
	// NoWatch turns off watching the www root for changes: every request
	// then checks the modification times of the files it uses, as it does
	// anyway where watching is not possible. With watching, an unchanged
	// site is served without a stat, and a change is seen by the first
	// request that starts after it (on Linux; elsewhere from the request
	// after the watcher has read its event). The watcher holds a
	// goroutine and a file descriptor until Shutdown.
	NoWatch bool
}

// Website is a site: a www root, its hooks and its simplates. Create it
// with New, run its startup hooks with Start, serve it (it is an
// http.Handler) and end with Shutdown.
type Website struct {
	root     string
	registry *Registry
	log      *slog.Logger
	fsys     fs.FS    // the www root; refuses names that escape it
	osRoot   *os.Root // behind fsys, closed by Shutdown
	loader   *simplate.Loader
	hooks    [numPhases][]hookEntry
	maxBody  int64
	timeout  time.Duration // 0: none
	showTB   bool
	errPages *errorPages
	cop      *http.CrossOriginProtection
	watch    *changeWatcher // nil when not watching
	dcache   dispatchCache
	hookFns  [numPhases][]atomic.Pointer[hookFn] // Starlark hook functions, by phase and index
	restart  restartNotes                        // configuration read at startup, to report changes
	static   staticCache

	mu      sync.RWMutex
	attrs   map[string]starlark.Value // website.<name>, set by startup hooks
	values  map[any]any               // Go-side state of extensions: Value, SetValue
	started bool                      // attrs and values are read-only once true
	stopped bool

	sl *websiteValue
}

// New prepares the website at cfg.Root: it reads and checks hooks.conf
// (every problem reported as file:line) but runs no hook yet.
func New(cfg Config) (*Website, error) {
	w, confErr, err := newWebsite(cfg)
	if err != nil {
		return nil, err
	}
	if confErr != nil {
		w.close()
		return nil, confErr
	}
	return w, nil
}

// newWebsite builds the website as New does. Errors in what the site's
// configuration says (a trusted origin, hooks.conf) do not stop it: the
// first is returned as confErr beside a website without hooks, so that
// Check can still compile the simplates of the same website. err is a
// failure to build anything (no root); w is nil then.
func newWebsite(cfg Config) (w *Website, confErr error, err error) {
	if cfg.Root == "" {
		return nil, nil, errors.New("aspengo: no www root given")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("aspengo: www root: %w", err)
	}
	osRoot, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("aspengo: www root: %w", err)
	}
	w = &Website{
		root:     root,
		registry: cfg.Registry,
		log:      cfg.Logger,
		fsys:     osRoot.FS(),
		osRoot:   osRoot,
		maxBody:  cfg.MaxBodyBytes,
		showTB:   cfg.ShowTracebacks,
	}
	if w.registry == nil {
		w.registry = NewRegistry()
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.maxBody <= 0 {
		w.maxBody = DefaultMaxBodyBytes
	}
	switch {
	case cfg.RequestTimeout == 0:
		w.timeout = DefaultRequestTimeout
	case cfg.RequestTimeout > 0:
		w.timeout = cfg.RequestTimeout
	}
	if !cfg.NoWatch {
		w.watch = watchRoot(root, w.log, w.configChanged)
	}
	builtins := starlark.StringDict{"abort": abortBuiltin}
	for name, v := range w.registry.builtins {
		builtins[name] = v
	}
	w.loader = simplate.NewLoader(simplate.Options{
		FS:       w.fsys,
		Builtins: builtins,
		Globals:  []string{"request", "response", "website"},
		MaxSteps: cfg.MaxSteps,
		MaxAlloc: cfg.MaxRequestMemory,
		Logger:   w.log,
		RootName: filepath.ToSlash(filepath.Clean(cfg.Root)),
		Changes:  w.watch.Changes,
	})
	w.errPages = &errorPages{loader: w.loader}
	w.cop = http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := w.cop.AddTrustedOrigin(o); err != nil {
			return w, fmt.Errorf("aspengo: trusted origin: %w", err), nil
		}
	}

	hooksFile, mustExist := hooksConfPath(cfg)
	hooks, err := loadHooksConf(hooksFile, mustExist, w.registry, w)
	if err != nil {
		return w, err, nil
	}
	w.hooks = hooks
	for p := range w.hooks {
		w.hookFns[p] = make([]atomic.Pointer[hookFn], len(w.hooks[p]))
	}
	w.rememberConfig(hooksFile)
	return w, nil, nil
}

// close releases what newWebsite opened, for a website that will not be
// served.
func (w *Website) close() {
	w.watch.Close()
	w.osRoot.Close()
}

// Root returns the absolute path of the www root.
func (w *Website) Root() string { return w.root }

// Logger returns the website's logger.
func (w *Website) Logger() *slog.Logger { return w.log }

// Start runs the startup hooks in hooks.conf order, then the functions
// registered with Registry.OnStart. Afterwards the website's attributes
// and values (SetAttr, SetValue) are read-only. A failing hook stops
// startup with its error.
func (w *Website) Start(ctx context.Context) error {
	for _, e := range w.hooks[Startup] {
		if err := w.runSiteHook(ctx, Startup, e); err != nil {
			return err
		}
	}
	for _, fn := range w.registry.onStart {
		if err := fn(ctx, w); err != nil {
			return fmt.Errorf("startup: %w", err)
		}
	}
	w.mu.Lock()
	w.started = true
	for _, v := range w.attrs {
		v.Freeze()
	}
	w.mu.Unlock()
	return nil
}

// Shutdown runs the shutdown hooks, every one of them even if some fail,
// and releases the www root. Call it once the server has drained.
func (w *Website) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return nil
	}
	w.stopped = true
	w.mu.Unlock()
	var errs []error
	for _, e := range w.hooks[Shutdown] {
		if err := w.runSiteHook(ctx, Shutdown, e); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(w.registry.onStop) - 1; i >= 0; i-- {
		if err := w.registry.onStop[i](ctx, w); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	if err := w.watch.Close(); err != nil {
		errs = append(errs, err)
	}
	w.restart.stop()
	if err := w.osRoot.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runSiteHook runs one startup or shutdown hook.
func (w *Website) runSiteHook(ctx context.Context, p Phase, e hookEntry) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s hook %s: %w", p, e.Name(), err)
		}
	}()
	defer recoverPanic(&err, "")
	if e.Builtin != nil {
		if p == Startup {
			return e.Builtin.Startup(ctx, w)
		}
		return e.Builtin.Shutdown(ctx, w)
	}
	fn, err := w.hookFunc(e.Module, e.Function)
	if err != nil {
		return err
	}
	thread := w.loader.NewThread(p.String())
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()
	return callHook(thread, fn, w.starlarkValue())
}

// Check reports every problem in the site at cfg.Root without serving it:
// hooks.conf and every simplate and .star module, each as file:line. It
// also reports what New accepts but what would fail silently: a comment
// naming a phase over another phase's section (a page break missing or
// extra), and a page that calls a builtin whose hooks (see
// [Registry.BuiltinNeeds]) hooks.conf does not list.
func Check(cfg Config) error {
	cfg.NoWatch = true
	hooksFile, _ := hooksConfPath(cfg)
	w, confErr, err := newWebsite(cfg)
	if err != nil {
		return err
	}
	defer w.close()
	var errs []error
	if confErr != nil {
		// Still compile the simplates, so that one run lists everything.
		errs = append(errs, confErr)
	}
	errs = append(errs, w.loader.CheckAll()...)
	errs = append(errs, w.lint(hooksFile, filepath.ToSlash(filepath.Clean(cfg.Root)))...)
	return errors.Join(errs...)
}

// Attr returns the website attribute name (website.db, website.title ...).
func (w *Website) Attr(name string) (starlark.Value, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	v, ok := w.attrs[name]
	return v, ok
}

// Value returns the value set with SetValue for key, or nil. Extensions
// keep their per-website state here (a store, a key, a limiter), found
// again from any request through Request.Website, rather than in a
// process-wide map. Safe for concurrent use.
func (w *Website) Value(key any) any {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.values[key]
}

// SetValue sets the value of key, as context.WithValue would: key should
// be of an unexported type of the extension, so that extensions cannot
// collide. It is meant for startup (a Hook.Startup function or one
// registered with Registry.OnStart) and fails once startup is over:
// after that, every request shares the values and they are read-only. The
// values themselves are not frozen: one that changes must be safe for
// concurrent use.
func (w *Website) SetValue(key, v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("website value %v: the website is read-only after startup", key)
	}
	if w.values == nil {
		w.values = map[any]any{}
	}
	w.values[key] = v
	return nil
}

// SetAttr sets the website attribute name. It fails once startup is over:
// after that the website is shared by every request and read-only.
func (w *Website) SetAttr(name string, v starlark.Value) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("website.%s: the website is read-only after startup", name)
	}
	if w.attrs == nil {
		w.attrs = map[string]starlark.Value{}
	}
	w.attrs[name] = v
	return nil
}
