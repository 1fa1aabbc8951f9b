package aspengo

import (
	"context"
	"net/http"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// Request is one request on its way through the pipeline. It embeds the
// *http.Request; hooks add attributes that Starlark code then sees as
// request.<name>.
type Request struct {
	*http.Request

	// Website is the site serving the request.
	Website *Website
	// Response is the response being built; outbound hooks see the final one.
	Response *Response
	// Resource is the file the URL path resolved to, nil before dispatch
	// and when dispatch failed.
	Resource *Resource

	attrs   map[string]starlark.Value                 // request.<name> set by hooks (session, user, ...)
	lazy    map[string]func() (starlark.Value, error) // request.<name> computed on first use
	lazyErr error                                     // the first failed lazy load of a template's data
	values  []keyValue                                // Go-side values shared between hooks
	body    requestBody                               // the parsed body: Form, FormFile, JSON

	thread *starlark.Thread // created on first use, one per request
	stop   func() bool      // stops the thread's cancellation on context end
	sl     *requestValue    // the Starlark `request`, created on first use
	rsl    starlark.Value   // the Starlark `response`, created on first use

	timedOut bool // ran out of time and was answered 503
}

// responseStarlark returns the Starlark `response` of r, made once.
func (r *Request) responseStarlark() starlark.Value {
	if r.rsl == nil {
		r.rsl = newResponseValue(r)
	}
	return r.rsl
}

// SetAttr makes v visible to Starlark code and templates as request.<name>.
// Hooks use it (trembling sets session, messages, user, authenticated).
func (r *Request) SetAttr(name string, v starlark.Value) {
	if r.attrs == nil {
		r.attrs = map[string]starlark.Value{}
	}
	r.attrs[name] = v
	delete(r.lazy, name)
}

// SetLazyAttr makes request.<name> the value load returns, computed the
// first time anything reads it (Starlark code, a template, or Go code
// through Attr) and kept for the rest of the request. Hooks use it for
// what costs a database call, such as a session or a user, so that a
// request that never looks pays nothing. An error from load fails what
// read it: the page's code, or the rendering of its template. The error is
// kept too, so that an error page does not wait for a failing database a
// second time.
func (r *Request) SetLazyAttr(name string, load func() (starlark.Value, error)) {
	if r.lazy == nil {
		r.lazy = map[string]func() (starlark.Value, error){}
	}
	r.lazy[name] = load
	delete(r.attrs, name)
}

// Attr returns the attribute set with SetAttr or SetLazyAttr, computing
// a lazy one if it has not been read yet. ok is false when no hook set
// name.
func (r *Request) Attr(name string) (v starlark.Value, ok bool, err error) {
	if v, ok := r.attrs[name]; ok {
		return v, true, nil
	}
	load, ok := r.lazy[name]
	if !ok {
		return nil, false, nil
	}
	v, err = load()
	if err != nil {
		r.lazy[name] = func() (starlark.Value, error) { return nil, err }
		return nil, true, err
	}
	r.SetAttr(name, v)
	return v, true, nil
}

// attrNames returns the names of every attribute set by hooks, loaded or
// not, in no particular order.
func (r *Request) attrNames() []string {
	names := make([]string, 0, len(r.attrs)+len(r.lazy))
	for name := range r.attrs {
		names = append(names, name)
	}
	for name := range r.lazy {
		names = append(names, name)
	}
	return names
}

// Value returns the Go value stored under key by SetValue, or nil.
func (r *Request) Value(key any) any {
	for _, kv := range r.values {
		if kv.key == key {
			return kv.v
		}
	}
	return nil
}

// SetValue stores a Go value for other hooks of the same request, keyed
// as context values are (use an unexported key type).
func (r *Request) SetValue(key, v any) {
	for i := range r.values {
		if r.values[i].key == key {
			r.values[i].v = v
			return
		}
	}
	if r.values == nil {
		// A request carries a handful of values: a slice searched in
		// order costs one allocation, where a map costs two or more.
		r.values = make([]keyValue, 0, 4)
	}
	r.values = append(r.values, keyValue{key, v})
}

// keyValue is one value set with SetValue.
type keyValue struct{ key, v any }

// Thread returns the request's Starlark thread, created on first use: it
// carries the request for builtins (see RequestFromThread) and its
// context (see simplate.Context), loads .aspen modules, and is cancelled
// when the request's context ends. Extensions call a site's Starlark
// functions on it (trembling's account events do).
func (r *Request) Thread() *starlark.Thread {
	if r.thread == nil {
		t := r.Website.loader.NewThread(r.URL.Path)
		t.SetLocal(threadRequestKey, r)
		simplate.SetContext(t, r.Context())
		r.stop = context.AfterFunc(r.Context(), func() { t.Cancel("request canceled") })
		r.thread = t
	}
	return r.thread
}

// freshSteps gives the outbound hooks a step budget of their own and
// lifts a cancellation: a page that ran out of steps, or a client that
// went away, must not keep the outbound hooks from running.
func (r *Request) freshSteps() {
	if t := r.thread; t != nil {
		t.Uncancel()
		t.SetMaxExecutionSteps(t.ExecutionSteps() + r.Website.loader.MaxSteps())
	}
}

// release frees what the request held once it has been answered.
func (r *Request) release() {
	if r.stop != nil {
		r.stop()
	}
	// net/http removes the temporary files of a multipart form only for
	// the *http.Request it made itself, not for a copy that a middleware
	// such as http.StripPrefix passed on.
	if r.MultipartForm != nil {
		r.MultipartForm.RemoveAll()
	}
}

// Redirect sets the response to a redirect to location with code (302
// when code is 0) and returns it, for a hook to return as its error.
func (r *Request) Redirect(location string, code int) *Response {
	if code == 0 {
		code = http.StatusFound
	}
	r.Response.Code = code
	r.Response.Header.Set("Location", location)
	r.Response.Body = nil
	r.Response.value = nil
	return r.Response
}

// Abort sets the response code (and body, when not empty) and returns the
// response, for a hook to return as its error. A code >= 400 with no body
// gets the site's error page.
func (r *Request) Abort(code int, body string) *Response {
	r.Response.Code = code
	r.Response.Body = nil
	r.Response.value = nil
	if body != "" {
		r.Response.Body = []byte(body)
	}
	return r.Response
}

// Response is the answer to a request. It is also an error: a hook or
// simplate that returns one ends the request with it, as Aspen's
// "raise Response" did.
type Response struct {
	// Code is the HTTP status code, 200 unless something changed it.
	Code int
	// Header is sent with the response; hooks may add to it.
	Header http.Header
	// Body is the response body. It is nil for a static file, which is
	// written straight from disk.
	Body []byte

	value   starlark.Value // response.body as Starlark set it, before encoding
	static  *staticFile    // set when the resource is a static file
	message string         // the error page's .detail
}

func (r *Response) Error() string {
	return "response " + http.StatusText(r.Code)
}

// SetCookie adds a Set-Cookie header. An invalid cookie is dropped
// silently, as net/http does.
func (r *Response) SetCookie(c *http.Cookie) {
	if v := c.String(); v != "" {
		r.Header.Add("Set-Cookie", v)
	}
}

// staticFile is a file to be written with http.ServeContent once the
// outbound hooks have run.
type staticFile struct {
	name string // for the Content-Type, by extension
}
