package aspengo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/hooks"
	"github.com/aspengo/aspengo/simplate"
)

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
	defer recoverPanic(&err, req.Resource.Path)
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
		"request":  req.starlarkValue(),
		"response": req.responseStarlark(),
		"website":  w.starlarkValue(),
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
	defer recoverPanic(&err, "")
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
	arg := req.starlarkValue()
	if p == OutboundEarly || p == OutboundLate {
		arg = req.responseStarlark()
	}
	return callHook(req.Thread(), fn, arg)
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
	fn, err := w.hookFunc(e.Module, e.Function)
	if err == nil && cp != 0 {
		slot.Store(&hookFn{cp: cp, fn: fn})
	}
	return fn, err
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
