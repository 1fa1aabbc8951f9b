package aspengo

// This file is the Starlark API of a website: the values that simplates
// and Starlark hooks see as request, response and website, and the abort
// builtin.
//
// Choices made here (docs/starlark.md is the reference for page authors):
//
//   - request.qs[name] and request.body[name] (and request.headers[name])
//     give the first value, as url.Values.Get does; a missing name ends the
//     request with 400 Bad Request, as Aspen's Mapping did, rather than a
//     500. one(name, default=None) and get(name, default=None) return the
//     first value or the default; all(name) returns every value.
//   - request.body is parsed on first access, once: url-encoded and
//     multipart forms (files are kept in memory up to maxFormMemory, beyond
//     that in temporary files removed when the request ends only if the
//     pipeline calls MultipartForm.RemoveAll). Other content types give an
//     empty body. A body over the limit set by the pipeline is a 413, a
//     malformed one a 400.
//   - request.json is the decoded body when the Content-Type is
//     application/json or ends in +json, else None; malformed JSON is a 400.
//   - request.scheme is "https" only when the connection itself is TLS;
//     X-Forwarded-Proto is not trusted here, because any client can send it.
//     A deployment behind a TLS-terminating proxy can set the scheme in an
//     inbound hook (rewrite r.URL / r.TLS from Go) when it trusts the proxy.
//   - request and response belong to one request and one goroutine; their
//     Freeze does nothing, so that hook attributes such as request.session
//     stay mutable for the whole request.
//   - website attributes are set by startup hooks; Freeze on the website
//     value freezes them, and the pipeline calls it when startup ends, so
//     that requests running in parallel share only immutable values.
//   - The template form of request (TemplateValue) holds qs, body and cookie
//     as maps of the first value of each name.

import (
	"fmt"
	"sort"

	"go.starlark.net/starlark"
)

// threadRequestKey is the thread-local key under which a request's
// Starlark thread carries its *Request.
const threadRequestKey = "aspengo.request"

// requestOf returns the request a Starlark thread runs for, or nil.
func requestOf(thread *starlark.Thread) *Request {
	if thread == nil {
		return nil
	}
	r, _ := thread.Local(threadRequestKey).(*Request)
	return r
}

// RequestFromThread returns the request a Starlark thread runs for, so
// that builtins registered by extensions can reach it. It reports false on
// a thread that serves no request (a startup or shutdown hook).
func RequestFromThread(thread *starlark.Thread) (*Request, bool) {
	r := requestOf(thread)
	return r, r != nil
}

// requestFromValue returns the request behind the Starlark value v, or
// false when v is not a request (see RequestArg).
func requestFromValue(v starlark.Value) (*Request, bool) {
	rv, ok := v.(*requestValue)
	if !ok || rv.r == nil {
		return nil, false
	}
	return rv.r, true
}

// RequestArg is a builtin's request parameter, for starlark.UnpackArgs,
// so that every builtin that acts on the request takes it the same way:
//
//	var r aspengo.RequestArg
//	err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &r, "text", &text)
//
// It accepts only the value Starlark code knows as request.
type RequestArg struct{ *Request }

// Unpack implements starlark.Unpacker.
func (a *RequestArg) Unpack(v starlark.Value) error {
	r, ok := requestFromValue(v)
	if !ok {
		return fmt.Errorf("want the request, not %s", v.Type())
	}
	a.Request = r
	return nil
}

var _ starlark.Unpacker = (*RequestArg)(nil)

// stop ends the request with its response: it returns an error that wraps
// r.Response, which the pipeline finds with errors.As through the
// *starlark.EvalError that Starlark execution returns.
func stop(what string, resp *Response) error {
	return fmt.Errorf("%s: %w", what, resp)
}

// abortBuiltin is abort(code, body=None): it ends the request with the
// status code and, when given, the body (a str or bytes); a code >= 400
// without a body gets the site's error page.
var abortBuiltin = starlark.NewBuiltin("abort", abort)

func abort(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code int
	var body starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code", &code, "body?", &body); err != nil {
		return nil, err
	}
	if err := checkCode(code); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var text string
	switch body := body.(type) {
	case starlark.NoneType:
	case starlark.String:
		text = string(body)
	case starlark.Bytes:
		text = string(body)
	default:
		return nil, fmt.Errorf("%s: body must be str, bytes or None, not %s", b.Name(), body.Type())
	}
	r := requestOf(thread)
	if r == nil {
		return nil, fmt.Errorf("%s: not called while serving a request", b.Name())
	}
	return nil, stop(fmt.Sprintf("abort(%d)", code), r.Abort(code, text))
}

// checkCode reports whether code is a valid HTTP status code.
func checkCode(code int) error {
	if code < 100 || code > 599 {
		return fmt.Errorf("status code %d is not in 100..599", code)
	}
	return nil
}

// attrTable maps the names of a Starlark type's built-in attributes to
// their getters, so that its Attr and AttrNames read one list.
type attrTable[T starlark.Value] map[string]func(T) (starlark.Value, error)

// addMethods adds each builtin of methods, bound to the value it is read
// from.
func (t attrTable[T]) addMethods(methods map[string]*starlark.Builtin) {
	for name, b := range methods {
		t[name] = func(v T) (starlark.Value, error) { return b.BindReceiver(v), nil }
	}
}

// names returns the attribute names, sorted.
func (t attrTable[T]) names() []string {
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
