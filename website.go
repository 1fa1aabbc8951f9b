package aspengo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/hooks"
	"github.com/aspengo/aspengo/internal/budget"
	"github.com/aspengo/aspengo/simplate"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 10 << 20

// DefaultRequestTimeout is the time limit of one request when
// Config.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second

// errRequestTimeout is the cause of a request context that ran out of
// time.
var errRequestTimeout = errors.New("request timeout")

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

// StatusError is an error that knows the HTTP status it should answer
// with, such as a database that cannot be reached (503). The pipeline
// answers with that status instead of a 500.
type StatusError interface {
	error
	HTTPStatus() int
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
	started bool                      // attrs are read-only once true
	stopped bool

	sl *websiteValue
}

// New prepares the website at cfg.Root: it reads and checks hooks.conf
// (every problem reported as file:line) but runs no hook yet.
func New(cfg Config) (*Website, error) {
	if cfg.Root == "" {
		return nil, errors.New("aspengo: no www root given")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("aspengo: www root: %w", err)
	}
	osRoot, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("aspengo: www root: %w", err)
	}
	w := &Website{
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
			w.watch.Close()
			osRoot.Close()
			return nil, fmt.Errorf("aspengo: trusted origin: %w", err)
		}
	}

	hooksFile, mustExist := cfg.HooksFile, true
	if hooksFile == "" {
		hooksFile, mustExist = filepath.Join(cfg.Root, ".aspen", "hooks.conf"), false
	}
	w.hooks, err = loadHooksConf(hooksFile, mustExist, w.registry, w)
	if err != nil {
		w.watch.Close()
		osRoot.Close()
		return nil, err
	}
	for p := range w.hooks {
		w.hookFns[p] = make([]atomic.Pointer[hookFn], len(w.hooks[p]))
	}
	w.rememberConfig(hooksFile)
	return w, nil
}

// Root returns the absolute path of the www root.
func (w *Website) Root() string { return w.root }

// Logger returns the website's logger.
func (w *Website) Logger() *slog.Logger { return w.log }

// HookFunc finds the Starlark hook function in .aspen/<module>.star; it
// makes the website the hookModules of its hooks.conf.
func (w *Website) HookFunc(module, function string) (starlark.Callable, error) {
	return hooks.Func(w.loader, module, function)
}

// Start runs the startup hooks in hooks.conf order, then the functions
// registered with Registry.OnStart. Afterwards the website's attributes
// are read-only. A failing hook stops startup with its error.
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
		if v := recover(); v != nil {
			err = panicError(v)
		}
		if err != nil {
			err = fmt.Errorf("%s hook %s: %w", p, e.Name(), err)
		}
	}()
	if e.Builtin != nil {
		if p == Startup {
			return e.Builtin.Startup(ctx, w)
		}
		return e.Builtin.Shutdown(ctx, w)
	}
	fn, err := w.HookFunc(e.Module, e.Function)
	if err != nil {
		return err
	}
	thread := w.loader.NewThread(p.String())
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()
	return hooks.Call(thread, fn, w.Starlark())
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
	var errs []error
	w, err := New(cfg)
	if err != nil {
		// New stops at hooks.conf; still compile the simplates so that one
		// run lists everything.
		errs = append(errs, err)
		w, err = New(Config{Root: cfg.Root, HooksFile: os.DevNull, NoWatch: true, MaxSteps: cfg.MaxSteps, Registry: cfg.Registry, Logger: cfg.Logger})
		if err != nil {
			return errors.Join(errs...)
		}
	}
	defer w.osRoot.Close()
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

// ServeHTTP runs the request pipeline: inbound_early hooks, dispatch,
// inbound_late hooks, the resource, outbound_early hooks (exactly once)
// and outbound_late hooks (always).
func (w *Website) ServeHTTP(rw http.ResponseWriter, hr *http.Request) {
	// Every change to the files completed before this request started is
	// counted from here on (see watch.go).
	w.watch.Sync()
	if hr.Body != nil && hr.Body != http.NoBody {
		hr.Body = http.MaxBytesReader(rw, hr.Body, w.maxBody)
	}
	hr.Body = http.MaxBytesReader(rw, hr.Body, w.maxBody)
	if w.timeout > 0 {
		ctx, cancel := context.WithTimeoutCause(hr.Context(), w.timeout, errRequestTimeout)
		defer cancel()
		hr = hr.WithContext(ctx)
	}
	req := &Request{
		Request:  hr,
		Website:  w,
		Response: &Response{Code: http.StatusOK, Header: http.Header{}},
	}
	defer req.release()

	if err := w.cop.Check(hr); err != nil {
		// A cross-site form post: refused before any hook or page runs.
		w.log.Warn("cross-origin request refused", "method", hr.Method, "path", hr.URL.Path, "origin", hr.Header.Get("Origin"), "err", err.Error())
		w.finish(req, req.Abort(http.StatusForbidden, ""))
	} else {
		w.finish(req, w.inbound(req))
	}
	req.freshSteps()
	if err := w.runRequestHooks(req, OutboundEarly); err != nil {
		w.finish(req, err)
	}
	if err := w.runRequestHooks(req, OutboundLate); err != nil {
		w.finish(req, err)
	}
	w.write(rw, req)
}

// inbound runs everything up to and including the resource.
func (w *Website) inbound(req *Request) error {
	if err := w.runRequestHooks(req, InboundEarly); err != nil {
		return err
	}
	res, err := w.dcache.get(w.fsys, req.URL.Path, w.checkpoint())
	if err != nil {
		var redir *redirectError
		switch {
		case errors.As(err, &redir):
			loc := redir.Location
			if req.URL.RawQuery != "" {
				loc += "?" + req.URL.RawQuery
			}
			return req.Redirect(loc, http.StatusMovedPermanently)
		case errors.Is(err, errNotFound):
			return req.Abort(http.StatusNotFound, "")
		}
		return err
	}
	req.Resource = res
	if err := w.runRequestHooks(req, InboundLate); err != nil {
		return err
	}
	return w.runResource(req)
}

// checkpoint returns the watcher's change count plus one, or 0 when the
// count cannot be trusted (see simplate.Options.Changes).
func (w *Website) checkpoint() uint64 {
	n, ok := w.watch.Changes()
	if !ok {
		return 0
	}
	return n + 1
}

// runResource serves a static file or runs a simplate. A Go panic in a
// builtin the page called is a 500, as in a hook.
func (w *Website) runResource(req *Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = fmt.Errorf("%s: %w", req.Resource.Path, panicError(v))
		}
	}()
	resp := req.Response
	sp, err := w.loader.Load(req.Resource.Path)
	if errors.Is(err, simplate.ErrNotSimplate) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			resp.Header.Set("Allow", "GET, HEAD")
			return req.Abort(http.StatusMethodNotAllowed, "")
		}
		resp.static = &staticFile{name: req.Resource.Path}
		return nil
	}
	if err != nil {
		return err
	}
	vars := starlark.StringDict{
		"request":  req.Starlark(),
		"response": req.responseStarlark(),
		"website":  w.Starlark(),
	}
	body, err := sp.Run(req.Thread(), vars)
	if err == nil {
		err = req.lazyErr
	}
	if err != nil {
		return err
	}
	if sp.JSON {
		if body, err = jsonBody(resp); err != nil {
			return err
		}
	}
	if resp.Body == nil && resp.value == nil {
		resp.Body = body
	}
	if v := resp.Header["Content-Type"]; len(v) == 0 || v[0] == "" {
		resp.Header["Content-Type"] = sp.ContentTypeHeader()
	}
	return nil
}

// jsonBody returns the body of a JSON simplate: response.body encoded as
// JSON unless the page set a string.
func jsonBody(resp *Response) ([]byte, error) {
	if resp.value == nil {
		return resp.Body, nil
	}
	if err := checkJSONBody(resp.value); err != nil {
		return nil, err
	}
	b, err := json.Marshal(simplate.ToGo(resp.value))
	if err != nil {
		return nil, fmt.Errorf("response.body: %w", err)
	}
	resp.value = nil
	resp.Body = append(b, '\n')
	return resp.Body, nil
}

// runRequestHooks runs the hooks of one request phase in order. An inbound
// hook that returns a *Response ends the phase; outbound hooks all run.
func (w *Website) runRequestHooks(req *Request, p Phase) error {
	var errs []error
	for i, e := range w.hooks[p] {
		err := w.runRequestHook(req, p, i, e)
		if err == nil {
			continue
		}
		if p == InboundEarly || p == InboundLate {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (w *Website) runRequestHook(req *Request, p Phase, i int, e hookEntry) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = panicError(v)
		}
	}()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s hook %s: %w", p, e.Name(), err)
		}
	}()
	if e.Builtin != nil {
		if p == InboundEarly || p == InboundLate {
			return e.Builtin.Inbound(req)
		}
		return e.Builtin.Outbound(req)
	}
	fn, err := w.requestHookFunc(p, i, e)
	if err != nil {
		return err
	}
	arg := req.Starlark()
	if p == OutboundEarly || p == OutboundLate {
		arg = req.responseStarlark()
	}
	return hooks.Call(req.Thread(), fn, arg)
}

// hookFn is a Starlark hook function found at a checkpoint.
type hookFn struct {
	cp uint64
	fn starlark.Callable
}

// requestHookFunc returns the function of the Starlark hook e, the i-th of
// phase p: from the cache while nothing under the root changed, else
// found again (the module is reloaded when it changed).
func (w *Website) requestHookFunc(p Phase, i int, e hookEntry) (starlark.Callable, error) {
	cp := w.checkpoint()
	slot := &w.hookFns[p][i]
	if c := slot.Load(); c != nil && cp != 0 && c.cp == cp {
		return c.fn, nil
	}
	fn, err := w.HookFunc(e.Module, e.Function)
	if err == nil && cp != 0 {
		slot.Store(&hookFn{cp: cp, fn: fn})
	}
	return fn, err
}

// finish turns the outcome of a stage into the response: a returned
// *Response is the answer; any other error is a 500.
func (w *Website) finish(req *Request, err error) {
	if err != nil && context.Cause(req.Context()) == errRequestTimeout && !errors.As(err, new(*Response)) {
		// Whatever failed after the deadline failed because of it.
		w.timedOut(req)
		err = nil
	}
	if err != nil {
		var resp *Response
		var status StatusError
		switch {
		case errors.As(err, &resp):
			if resp.Header == nil { // a hook's own &Response{Code: 403}
				resp.Header = http.Header{}
			}
			req.Response = resp
		case errors.As(err, &status) && status.HTTPStatus() >= 400:
			// A known failure such as an unreachable database: log it,
			// answer with its status, no traceback.
			w.log.Warn("request failed", "method", req.Method, "path", req.URL.Path, "status", status.HTTPStatus(), "err", err.Error())
			req.Response = &Response{Code: status.HTTPStatus(), Header: http.Header{}}
			if status.HTTPStatus() == http.StatusBadRequest {
				// The client's own malformed input: tell it what was
				// refused. (Other statuses, such as a 404 for an unknown
				// account, keep their reason in the log.)
				req.Response.message = status.Error()
			}
		default:
			w.internalError(req, err)
		}
	}
	resp := req.Response
	if resp.Code >= 400 && resp.Body == nil && resp.value == nil && resp.static == nil {
		w.errPages.render(req, "")
	}
}

// timedOut answers 503 to a request that ran out of time, and logs it
// once, however many of its stages fail afterwards.
func (w *Website) timedOut(req *Request) {
	if !req.timedOut {
		req.timedOut = true
		w.log.Warn("request timed out", "method", req.Method, "path", req.URL.Path, "limit", w.timeout.String())
	}
	req.Response = &Response{
		Code:    http.StatusServiceUnavailable,
		Header:  http.Header{},
		message: fmt.Sprintf("The request took longer than the limit of %s.", w.timeout),
	}
}

// internalError replaces the response with a 500 and logs err with its
// Starlark traceback.
func (w *Website) internalError(req *Request, err error) {
	tb := w.traceback(err)
	if req.Context().Err() != nil {
		// The client went away and the page was cancelled: not a fault
		// of the site, and nobody reads the answer.
		w.log.Info("request cancelled", "method", req.Method, "path", req.URL.Path, "err", err.Error())
	} else {
		w.log.Error("internal server error", "method", req.Method, "path", req.URL.Path, "err", err.Error(), "traceback", tb)
	}
	resp := &Response{Code: http.StatusInternalServerError, Header: http.Header{}}
	var limit *budget.LimitError
	if errors.As(err, &limit) {
		resp.message = limit.Error() // names the limit, and nothing of the page
	}
	req.Response = resp
	if w.showTB {
		w.errPages.render(req, tb)
	} else {
		w.errPages.render(req, "")
	}
}

// write sends the response.
func (w *Website) write(rw http.ResponseWriter, req *Request) {
	resp := req.Response
	h := rw.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	hooks.SetSecurityHeaders(h)
	if resp.static != nil {
		w.serveStatic(rw, req)
		return
	}
	if resp.Code >= 300 && resp.Code < 400 && h.Get("Location") != "" && len(resp.Body) == 0 {
		h.Del("Content-Type")
	} else if h.Get("Content-Type") == "" && len(resp.Body) > 0 {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	rw.WriteHeader(resp.Code)
	if req.Method != http.MethodHead {
		rw.Write(resp.Body)
	}
}

// panicError turns a recovered panic into an error carrying the stack.
func panicError(v any) error {
	return &tracedError{msg: fmt.Sprintf("panic: %v", v), trace: string(debug.Stack())}
}

// tracedError is an error with a Go stack trace, from a recovered panic.
type tracedError struct{ msg, trace string }

func (e *tracedError) Error() string { return e.msg }

// traceback returns the Starlark backtrace of err, with the source lines
// around each frame in the site, or the Go stack of a panic, or, for an
// error located in a file of the site (a template error), the error and
// the lines around it. The text has several lines.
func (w *Website) traceback(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		var b strings.Builder
		b.WriteString("Traceback (most recent call last):\n")
		for _, fr := range ee.CallStack {
			fmt.Fprintf(&b, "  %s: in %s\n", fr.Pos, fr.Name)
			w.writeSource(&b, fr.Pos.Filename(), int(fr.Pos.Line))
		}
		fmt.Fprintf(&b, "Error: %s", ee.Msg)
		return b.String()
	}
	var te *tracedError
	if errors.As(err, &te) {
		return te.msg + "\n" + te.trace
	}
	var se *simplate.Error
	if errors.As(err, &se) && se.Line > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", err)
		w.writeSource(&b, se.File, se.Line)
		return strings.TrimSuffix(b.String(), "\n")
	}
	return err.Error()
}

// sourceContext is how many lines before and after a frame's line a
// traceback shows.
const sourceContext = 2

// writeSource writes the lines around line of file, marking line, when
// file is a file of the site (as messages name it, "www/page.html.spt");
// otherwise nothing.
func (w *Website) writeSource(b *strings.Builder, file string, line int) {
	if line <= 0 || file == "" || strings.HasPrefix(file, "<") {
		return
	}
	abs, err := filepath.Abs(filepath.FromSlash(file))
	if err != nil {
		return
	}
	rel, err := filepath.Rel(w.root, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return
	}
	src, err := fs.ReadFile(w.fsys, filepath.ToSlash(rel))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	for n := max(1, line-sourceContext); n <= min(len(lines), line+sourceContext); n++ {
		mark := " "
		if n == line {
			mark = ">"
		}
		fmt.Fprintf(b, "    %s %4d | %s\n", mark, n, strings.TrimRight(lines[n-1], "\r"))
	}
}
