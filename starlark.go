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
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// threadRequestKey is the thread-local key under which a request's
// Starlark thread carries its *Request.
const threadRequestKey = "aspengo.request"

// maxFormMemory is how much of a multipart body is kept in memory; file
// parts beyond it go to temporary files.
const maxFormMemory = 8 << 20

// maxJSONBody caps request.json when the pipeline set no smaller limit.
const maxJSONBody = 10 << 20

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

// RequestFromValue returns the request behind the Starlark value v, for
// builtins that take the request as an argument (login(request, ...)). It
// reports false when v is not a request.
func RequestFromValue(v starlark.Value) (*Request, bool) {
	rv, ok := v.(*requestValue)
	if !ok || rv.r == nil {
		return nil, false
	}
	return rv.r, true
}

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

// ---------------------------------------------------------------------------
// request

// requestValue is the Starlark `request`. It is created once per request
// (see Request.Starlark) and caches what it parses.
type requestValue struct {
	r *Request

	path    *pathValue
	qs      *multiDict
	headers *multiDict
	cookie  *starlark.Dict

	bodyParsed bool
	body       *multiDict
	bodyErr    error // raw parse error; see bodyError

	jsonParsed bool
	json       starlark.Value
	jsonErr    error // raw read or decode error
	jsonTooBig bool
}

var (
	_ starlark.HasAttrs             = (*requestValue)(nil)
	_ simplate.TemplateFieldsValuer = (*requestValue)(nil)
)

// Starlark returns the request as Starlark code sees it, `request`. It is
// created on first use and the same value is returned afterwards.
func (r *Request) Starlark() starlark.Value {
	if r.sl == nil {
		r.sl = &requestValue{r: r}
	}
	return r.sl
}

// methodAttrs are the boolean attributes request.GET, request.POST ...
var methodAttrs = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodHead, http.MethodOptions, http.MethodTrace,
	http.MethodConnect,
}

var requestMethods = map[string]*starlark.Builtin{
	"redirect": starlark.NewBuiltin("redirect", requestRedirect),
	"allow":    starlark.NewBuiltin("allow", requestAllow),
}

var requestAttrNames = []string{
	"allow", "body", "cookie", "headers", "host", "is_xhr", "json", "method",
	"path", "qs", "redirect", "scheme", "url", "version",
}

func (rv *requestValue) String() string {
	return fmt.Sprintf("<request %s %s>", rv.r.Method, rv.r.URL.RequestURI())
}
func (rv *requestValue) Type() string          { return "request" }
func (rv *requestValue) Freeze()               {} // per request; see the file comment
func (rv *requestValue) Truth() starlark.Bool  { return starlark.True }
func (rv *requestValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: request") }

// Attr returns the built-in attributes first, then those set by hooks. An
// attribute that only a hook provides and that no hook set is an error
// naming the hook to add to hooks.conf.
func (rv *requestValue) Attr(name string) (starlark.Value, error) {
	r := rv.r
	switch name {
	case "method":
		return starlark.String(r.Method), nil
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT":
		return starlark.Bool(r.Method == name), nil
	case "path":
		if rv.path == nil {
			rv.path = newPathValue(r)
		}
		return rv.path, nil
	case "qs":
		if rv.qs == nil {
			rv.qs = &multiDict{typ: "request.qs", r: r, values: r.URL.Query()}
		}
		return rv.qs, nil
	case "body":
		if err := rv.parseBody(); err != nil {
			return nil, rv.bodyError(err)
		}
		return rv.body, nil
	case "json":
		return rv.jsonValue()
	case "headers":
		if rv.headers == nil {
			rv.headers = &multiDict{typ: "request.headers", r: r, values: r.Header, header: true}
		}
		return rv.headers, nil
	case "cookie":
		if rv.cookie == nil {
			rv.cookie = cookieDict(r.Request)
		}
		return rv.cookie, nil
	case "url":
		return starlark.String(requestURL(r.Request)), nil
	case "host":
		return starlark.String(requestHost(r.Request)), nil
	case "scheme":
		return starlark.String(requestScheme(r.Request)), nil
	case "version":
		return starlark.String(r.Proto), nil
	case "is_xhr":
		return starlark.Bool(strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")), nil
	}
	if m, ok := requestMethods[name]; ok {
		return m.BindReceiver(rv), nil
	}
	if v, ok, err := r.Attr(name); ok {
		return v, err
	}
	if r.Website != nil && r.Website.registry != nil {
		if hook, ok := r.Website.registry.attrHints[name]; ok {
			return nil, fmt.Errorf("request.%s needs the hook %s in hooks.conf", name, hook)
		}
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("request has no .%s attribute", name))
}

// AttrNames lists the built-in attributes and those set by hooks.
// Attributes a hook would provide but that are not set are left out, so
// that hasattr(request, "session") tells whether the session hook ran.
func (rv *requestValue) AttrNames() []string {
	names := make([]string, 0, len(requestAttrNames)+len(methodAttrs)+len(rv.r.attrs)+len(rv.r.lazy))
	names = append(names, requestAttrNames...)
	names = append(names, methodAttrs...)
	names = append(names, rv.r.attrNames()...)
	sort.Strings(names)
	return compactStrings(names)
}

// compactStrings removes adjacent duplicates from sorted names.
func compactStrings(names []string) []string {
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// requestScheme is "https" when the connection is TLS, else "http".
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// requestHost is the host (and port, when given) the client asked for.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// requestURL is the full URL the client asked for.
func requestURL(r *http.Request) string {
	return requestScheme(r) + "://" + requestHost(r) + r.URL.RequestURI()
}

// cookieDict returns the request's cookies as a frozen dict; of several
// cookies with one name the first wins, as with http.Request.Cookie.
func cookieDict(r *http.Request) *starlark.Dict {
	cookies := r.Cookies()
	d := starlark.NewDict(len(cookies))
	for _, c := range cookies {
		k := starlark.String(c.Name)
		if _, found, _ := d.Get(k); !found {
			d.SetKey(k, starlark.String(c.Value))
		}
	}
	d.Freeze()
	return d
}

// parseBody parses a form body once and returns the parse error, if any.
func (rv *requestValue) parseBody() error {
	if rv.bodyParsed {
		return rv.bodyErr
	}
	rv.bodyParsed = true
	r := rv.r
	rv.body = &multiDict{typ: "request.body", r: r}
	if r.Body == nil {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		rv.bodyErr = fmt.Errorf("bad Content-Type: %w", err)
		return rv.bodyErr
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
	case "multipart/form-data":
		err = r.ParseMultipartForm(maxFormMemory)
	default:
		return nil
	}
	if err != nil {
		rv.bodyErr = err
		return err
	}
	rv.body.values = r.PostForm
	if r.MultipartForm != nil {
		rv.body.files = r.MultipartForm.File
	}
	return nil
}

// bodyError turns a body read error into the response that ends the
// request: 413 when the body is over the limit, else 400.
func (rv *requestValue) bodyError(err error) error {
	code := http.StatusBadRequest
	if tooLarge(err) {
		code = http.StatusRequestEntityTooLarge
	}
	return stop(fmt.Sprintf("request.body: %v", err), rv.r.Abort(code, ""))
}

// tooLarge reports whether err says that a body was over its limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, multipart.ErrMessageTooLarge)
}

// jsonValue returns request.json.
func (rv *requestValue) jsonValue() (starlark.Value, error) {
	if !rv.jsonParsed {
		rv.jsonParsed = true
		rv.json, rv.jsonErr = rv.decodeJSON()
	}
	if rv.jsonErr != nil {
		code := http.StatusBadRequest
		if rv.jsonTooBig || tooLarge(rv.jsonErr) {
			code = http.StatusRequestEntityTooLarge
		}
		return nil, stop(fmt.Sprintf("request.json: %v", rv.jsonErr), rv.r.Abort(code, ""))
	}
	return rv.json, nil
}

// decodeJSON reads and decodes a JSON body; it returns None when the
// Content-Type is not JSON.
func (rv *requestValue) decodeJSON() (starlark.Value, error) {
	r := rv.r
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || r.Body == nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return starlark.None, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJSONBody {
		rv.jsonTooBig = true
		return nil, fmt.Errorf("body over %d bytes", maxJSONBody)
	}
	if err := simplate.CheckJSONDepth(string(data)); err != nil {
		return nil, err
	}
	// A throwaway thread: json.decode uses it only to report errors.
	v, err := starlark.Call(&starlark.Thread{Name: "request.json"}, json.Module.Members["decode"],
		starlark.Tuple{starlark.String(data)}, nil)
	if err != nil {
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			return nil, errors.New(ee.Msg)
		}
		return nil, err
	}
	return v, nil
}

// requestRedirect is request.redirect(location, code=302, permanent=False).
func requestRedirect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var location string
	code := 0
	permanent := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "location", &location, "code?", &code, "permanent?", &permanent); err != nil {
		return nil, err
	}
	if code == 0 {
		code = http.StatusFound
		if permanent {
			code = http.StatusMovedPermanently
		}
	}
	if code < 300 || code > 399 {
		return nil, fmt.Errorf("%s: code %d is not a redirect (300..399)", b.Name(), code)
	}
	if location == "" || strings.ContainsFunc(location, isControl) {
		return nil, fmt.Errorf("%s: invalid location %q", b.Name(), location)
	}
	r := b.Receiver().(*requestValue).r
	return nil, stop(fmt.Sprintf("redirect(%d, %q)", code, location), r.Redirect(location, code))
}

// requestAllow is request.allow(*methods): a 405 with an Allow header
// unless the request's method is one of methods. HEAD is allowed with GET.
func requestAllow(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("%s: unexpected keyword argument", b.Name())
	}
	var methods []string
	add := func(m string) {
		for _, x := range methods {
			if x == m {
				return
			}
		}
		methods = append(methods, m)
	}
	for i, a := range args {
		s, ok := starlark.AsString(a)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: argument %d is not a method name: %s", b.Name(), i+1, a)
		}
		m := strings.ToUpper(s)
		add(m)
		if m == http.MethodGet {
			add(http.MethodHead)
		}
	}
	r := b.Receiver().(*requestValue).r
	for _, m := range methods {
		if m == r.Method {
			return starlark.None, nil
		}
	}
	resp := r.Abort(http.StatusMethodNotAllowed, "")
	resp.Header.Set("Allow", strings.Join(methods, ", "))
	return nil, stop(fmt.Sprintf("allow: method %s not allowed", r.Method), resp)
}

// TemplateValue returns the request as template data: method, the method
// booleans (GET, POST ...), path (virtual values and raw), qs, body and
// cookie (maps of the first value of each name), url, host, scheme, and
// every attribute set by hooks, converted with simplate.ToGo. A body that
// cannot be parsed is left empty here; Starlark code sees the error. A
// multipart body appears only when the page's code has read request.body.
func (rv *requestValue) TemplateValue() any {
	r := rv.r
	m := make(map[string]any, 16+len(r.attrs)+len(r.lazy))
	for _, name := range requestFields {
		rv.templateField(m, name)
	}
	for _, name := range r.attrNames() {
		rv.templateAttr(m, name)
	}
	return m
}

// TemplateFields is TemplateValue with only the fields in names, for a
// template that reads no other: an attribute set lazily by a hook (the
// session) is computed only when it is among them.
func (rv *requestValue) TemplateFields(names []string) any {
	m := make(map[string]any, len(names))
	for _, name := range names {
		rv.templateField(m, name)
		rv.templateAttr(m, name) // as in TemplateValue, a hook's attribute wins
	}
	return m
}

// requestFields are the fields of the template form of request that are
// not hook attributes.
var requestFields = append([]string{"method", "path", "qs", "body", "cookie", "url", "host", "scheme", "version", "is_xhr"}, methodAttrs...)

// templateField sets m[name] to the template form of the built-in field
// name and reports whether name is one.
func (rv *requestValue) templateField(m map[string]any, name string) bool {
	r := rv.r
	switch name {
	case "method":
		m[name] = r.Method
	case "path":
		path := map[string]any{"raw": r.URL.Path}
		if r.Resource != nil {
			for k, v := range r.Resource.Vars {
				path[k] = templateVar(v)
			}
		}
		m[name] = path
	case "qs":
		if rv.qs != nil {
			m[name] = firstValues(rv.qs.values)
		} else {
			m[name] = firstValues(r.URL.Query())
		}
	case "body":
		// A multipart body that the page's code never read is not parsed
		// just for the template: it may be megabytes of uploads.
		m[name] = map[string]string{}
		if rv.bodyParsed || !isMultipart(r.Request) {
			if rv.parseBody() == nil {
				m[name] = firstValues(rv.body.values)
			}
		}
	case "cookie":
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			if _, dup := cookies[c.Name]; !dup {
				cookies[c.Name] = c.Value
			}
		}
		m[name] = cookies
	case "url":
		m[name] = requestURL(r.Request)
	case "host":
		m[name] = requestHost(r.Request)
	case "scheme":
		m[name] = requestScheme(r.Request)
	case "version":
		m[name] = r.Proto
	case "is_xhr":
		m[name] = strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")
	default:
		for _, meth := range methodAttrs {
			if name == meth {
				m[name] = r.Method == name
				return true
			}
		}
		return false
	}
	return true
}

// templateAttr sets m[name] to the template form of the hook attribute
// name, computing it if it is lazy; it does nothing if no hook set name.
func (rv *requestValue) templateAttr(m map[string]any, name string) {
	r := rv.r
	v, ok, err := r.Attr(name)
	if err != nil {
		// The template cannot render without it; runResource answers
		// with this error once the page has run.
		if r.lazyErr == nil {
			r.lazyErr = err
		}
		return
	}
	if ok {
		m[name] = simplate.ToGo(v)
	}
}

// isMultipart reports whether r's body is a multipart form.
func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/")
}

// firstValues maps each name to its first value.
func firstValues(vals map[string][]string) map[string]string {
	m := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 0 {
			m[k] = vs[0]
		}
	}
	return m
}

// templateVar converts a virtual path value for templates: ints become
// int64, as simplate.ToGo makes them.
func templateVar(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	}
	return v
}

// ---------------------------------------------------------------------------
// request.path

// pathValue is request.path: the virtual path values by name, and raw.
type pathValue struct {
	raw  string
	vars map[string]any
}

var (
	_ starlark.Mapping   = (*pathValue)(nil)
	_ starlark.Container = (*pathValue)(nil)
	_ starlark.HasAttrs  = (*pathValue)(nil)
)

func newPathValue(r *Request) *pathValue {
	p := &pathValue{raw: r.URL.Path}
	if r.Resource != nil {
		p.vars = r.Resource.Vars
	}
	return p
}

var pathMethods = map[string]*starlark.Builtin{
	"get":  starlark.NewBuiltin("get", pathGet),
	"keys": starlark.NewBuiltin("keys", pathKeys),
}

func (p *pathValue) String() string        { return fmt.Sprintf("<request.path %q>", p.raw) }
func (p *pathValue) Type() string          { return "request.path" }
func (p *pathValue) Freeze()               {} // immutable
func (p *pathValue) Truth() starlark.Bool  { return starlark.True }
func (p *pathValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: request.path") }

func (p *pathValue) Attr(name string) (starlark.Value, error) {
	if name == "raw" {
		return starlark.String(p.raw), nil
	}
	if m, ok := pathMethods[name]; ok {
		return m.BindReceiver(p), nil
	}
	return nil, nil
}

func (p *pathValue) AttrNames() []string { return []string{"get", "keys", "raw"} }

// lookup returns the virtual value name as a Starlark value.
func (p *pathValue) lookup(k starlark.Value) (starlark.Value, bool) {
	name, ok := starlark.AsString(k)
	if !ok {
		return nil, false
	}
	v, ok := p.vars[name]
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case string:
		return starlark.String(v), true
	case int:
		return starlark.MakeInt(v), true
	case int64:
		return starlark.MakeInt64(v), true
	}
	return starlark.String(fmt.Sprint(v)), true
}

func (p *pathValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	v, ok := p.lookup(k)
	return v, ok, nil
}

func (p *pathValue) Has(k starlark.Value) (bool, error) {
	_, ok := p.lookup(k)
	return ok, nil
}

func pathGet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if v, ok := b.Receiver().(*pathValue).lookup(starlark.String(name)); ok {
		return v, nil
	}
	return dflt, nil
}

func pathKeys(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	vars := b.Receiver().(*pathValue).vars
	return sortedKeys(vars), nil
}

// sortedKeys returns the keys of m as a sorted Starlark list.
func sortedKeys[V any](m map[string]V) *starlark.List {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	elems := make([]starlark.Value, len(keys))
	for i, k := range keys {
		elems[i] = starlark.String(k)
	}
	return starlark.NewList(elems)
}

// ---------------------------------------------------------------------------
// request.qs, request.body, request.headers

// multiDict is request.qs, request.body or request.headers: names with
// one or more string values.
type multiDict struct {
	typ    string
	r      *Request
	values map[string][]string
	header bool                               // names are case-insensitive; Host is r.Host
	files  map[string][]*multipart.FileHeader // request.body of a multipart form
}

var (
	_ starlark.Mapping   = (*multiDict)(nil)
	_ starlark.Container = (*multiDict)(nil)
	_ starlark.HasAttrs  = (*multiDict)(nil)
)

var multiDictMethods = map[string]*starlark.Builtin{
	"one":    starlark.NewBuiltin("one", multiDictOne),
	"get":    starlark.NewBuiltin("get", multiDictOne),
	"all":    starlark.NewBuiltin("all", multiDictAll),
	"keys":   starlark.NewBuiltin("keys", multiDictKeys),
	"file":   starlark.NewBuiltin("file", multiDictFile),
	"int":    starlark.NewBuiltin("int", multiDictInt),
	"float":  starlark.NewBuiltin("float", multiDictFloat),
	"bool":   starlark.NewBuiltin("bool", multiDictBool),
	"choice": starlark.NewBuiltin("choice", multiDictChoice),
}

func (d *multiDict) String() string        { return "<" + d.typ + ">" }
func (d *multiDict) Type() string          { return d.typ }
func (d *multiDict) Freeze()               {} // immutable
func (d *multiDict) Truth() starlark.Bool  { return len(d.values) > 0 || len(d.files) > 0 }
func (d *multiDict) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", d.typ) }

func (d *multiDict) Attr(name string) (starlark.Value, error) {
	if name == "file" && d.typ != "request.body" {
		return nil, nil
	}
	if m, ok := multiDictMethods[name]; ok {
		return m.BindReceiver(d), nil
	}
	return nil, nil
}

func (d *multiDict) AttrNames() []string {
	if d.typ == "request.body" {
		return []string{"all", "bool", "choice", "file", "float", "get", "int", "keys", "one"}
	}
	return []string{"all", "bool", "choice", "float", "get", "int", "keys", "one"}
}

// all returns every value of name.
func (d *multiDict) all(name string) []string {
	if d.header {
		if http.CanonicalHeaderKey(name) == "Host" {
			return []string{requestHost(d.r.Request)}
		}
		return http.Header(d.values).Values(name)
	}
	return d.values[name]
}

// Get is d[name]: the first value; a missing name ends the request with
// 400 Bad Request, as in Aspen.
func (d *multiDict) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return nil, false, fmt.Errorf("%s: key must be str, not %s", d.typ, k.Type())
	}
	if vs := d.all(name); len(vs) > 0 {
		return starlark.String(vs[0]), true, nil
	}
	return nil, false, stop(fmt.Sprintf("key %q not in %s", name, d.typ), d.r.Abort(http.StatusBadRequest, ""))
}

// Has is `name in d`.
func (d *multiDict) Has(k starlark.Value) (bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return false, nil
	}
	return len(d.all(name)) > 0, nil
}

func multiDictOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if vs := b.Receiver().(*multiDict).all(name); len(vs) > 0 {
		return starlark.String(vs[0]), nil
	}
	return dflt, nil
}

func multiDictAll(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	vs := b.Receiver().(*multiDict).all(name)
	elems := make([]starlark.Value, len(vs))
	for i, v := range vs {
		elems[i] = starlark.String(v)
	}
	return starlark.NewList(elems), nil
}

func multiDictKeys(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return sortedKeys(b.Receiver().(*multiDict).values), nil
}

// Typed getters: request.qs.int(name, default=None, min=None, max=None),
// .float (the same), .bool(name, default=False) and .choice(name, choices,
// default=None), likewise on request.body and request.headers. A value
// that is missing or empty gives the default; with no default (None) it
// is a 400, and so is a value that is not of the type, out of range or
// not one of the choices. The 400 carries a message that names the
// parameter and says what was wanted; error pages show it as .detail.

// badInput ends the request with a 400 whose error page says why.
func (d *multiDict) badInput(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	resp := d.r.Abort(http.StatusBadRequest, "")
	resp.message = msg
	return stop(d.typ+": "+msg, resp)
}

// typedValue returns the first value of name, or ok false when it is
// missing or empty, in which case a nil dflt is a 400.
func (d *multiDict) typedValue(name string, dflt starlark.Value) (v string, ok bool, err error) {
	vs := d.all(name)
	if len(vs) > 0 && strings.TrimSpace(vs[0]) != "" {
		return strings.TrimSpace(vs[0]), true, nil
	}
	if dflt == starlark.None {
		return "", false, d.badInput("%s is required", name)
	}
	return "", false, nil
}

func multiDictInt(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	var lo, hi starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt, "min?", &lo, "max?", &hi); err != nil {
		return nil, err
	}
	for _, bound := range []starlark.Value{dflt, lo, hi} {
		if _, ok := bound.(starlark.Int); !ok && bound != starlark.None {
			return nil, fmt.Errorf("%s: default, min and max must be int or None, not %s", b.Name(), bound.Type())
		}
	}
	d := b.Receiver().(*multiDict)
	raw, ok, err := d.typedValue(name, dflt)
	if !ok {
		return dflt, err
	}
	n, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil {
		if errors.Is(perr, strconv.ErrRange) {
			return nil, d.badInput("%s is out of range: %q", name, raw)
		}
		return nil, d.badInput("%s must be a whole number, not %q", name, raw)
	}
	v := starlark.MakeInt64(n)
	if lo != starlark.None && starlark.Int.Sign(v.Sub(lo.(starlark.Int))) < 0 {
		return nil, d.badInput("%s must be at least %s, not %d", name, lo, n)
	}
	if hi != starlark.None && starlark.Int.Sign(v.Sub(hi.(starlark.Int))) > 0 {
		return nil, d.badInput("%s must be at most %s, not %d", name, hi, n)
	}
	return v, nil
}

func multiDictFloat(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	var lo, hi starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt, "min?", &lo, "max?", &hi); err != nil {
		return nil, err
	}
	bound := func(v starlark.Value) (float64, bool, error) {
		if v == starlark.None {
			return 0, false, nil
		}
		f, ok := starlark.AsFloat(v)
		if !ok {
			return 0, false, fmt.Errorf("%s: default, min and max must be numbers or None, not %s", b.Name(), v.Type())
		}
		return f, true, nil
	}
	if _, _, err := bound(dflt); err != nil {
		return nil, err
	}
	lof, hasLo, err := bound(lo)
	if err != nil {
		return nil, err
	}
	hif, hasHi, err := bound(hi)
	if err != nil {
		return nil, err
	}
	d := b.Receiver().(*multiDict)
	raw, ok, err := d.typedValue(name, dflt)
	if !ok {
		return dflt, err
	}
	f, perr := strconv.ParseFloat(raw, 64)
	// Only plain decimal numbers: no "NaN", "Inf" or hexadecimal floats.
	if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(raw, "xXnNiI") {
		return nil, d.badInput("%s must be a number, not %q", name, raw)
	}
	if hasLo && f < lof {
		return nil, d.badInput("%s must be at least %s, not %s", name, lo, raw)
	}
	if hasHi && f > hif {
		return nil, d.badInput("%s must be at most %s, not %s", name, hi, raw)
	}
	return starlark.Float(f), nil
}

func multiDictBool(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.False
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if _, ok := dflt.(starlark.Bool); !ok && dflt != starlark.None {
		return nil, fmt.Errorf("%s: default must be bool or None, not %s", b.Name(), dflt.Type())
	}
	d := b.Receiver().(*multiDict)
	raw, ok, err := d.typedValue(name, dflt)
	if !ok {
		return dflt, err
	}
	switch strings.ToLower(raw) {
	case "1", "true", "yes", "on":
		return starlark.True, nil
	case "0", "false", "no", "off":
		return starlark.False, nil
	}
	return nil, d.badInput("%s must be true or false (1/0, yes/no, on/off), not %q", name, raw)
}

func multiDictChoice(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var choices starlark.Iterable
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "choices", &choices, "default?", &dflt); err != nil {
		return nil, err
	}
	var allowed []string
	it := choices.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		c, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s: choices must be strings, not %s", b.Name(), x.Type())
		}
		allowed = append(allowed, c)
	}
	if len(allowed) == 0 {
		return nil, fmt.Errorf("%s: no choices", b.Name())
	}
	d := b.Receiver().(*multiDict)
	raw, ok, err := d.typedValue(name, dflt)
	if !ok {
		return dflt, err
	}
	if slices.Contains(allowed, raw) {
		return starlark.String(raw), nil
	}
	return nil, d.badInput("%s must be one of %s, not %q", name, strings.Join(allowed, ", "), raw)
}

// multiDictFile is request.body.file(name): the first file uploaded as
// name, or None.
func multiDictFile(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	fhs := b.Receiver().(*multiDict).files[name]
	if len(fhs) == 0 {
		return starlark.None, nil
	}
	return &uploadValue{fh: fhs[0]}, nil
}

// ---------------------------------------------------------------------------
// uploaded files

// uploadValue is a file of a multipart body: filename, content_type,
// size and read() → bytes.
type uploadValue struct {
	fh *multipart.FileHeader
}

var _ starlark.HasAttrs = (*uploadValue)(nil)

var uploadRead = starlark.NewBuiltin("read", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	fh := b.Receiver().(*uploadValue).fh
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), fh.Filename, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), fh.Filename, err)
	}
	return starlark.Bytes(data), nil
})

func (u *uploadValue) String() string        { return fmt.Sprintf("<file %q>", u.fh.Filename) }
func (u *uploadValue) Type() string          { return "file" }
func (u *uploadValue) Freeze()               {} // immutable
func (u *uploadValue) Truth() starlark.Bool  { return starlark.True }
func (u *uploadValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: file") }

func (u *uploadValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "filename":
		return starlark.String(u.fh.Filename), nil
	case "content_type":
		return starlark.String(u.fh.Header.Get("Content-Type")), nil
	case "size":
		return starlark.MakeInt64(u.fh.Size), nil
	case "read":
		return uploadRead.BindReceiver(u), nil
	}
	return nil, nil
}

func (u *uploadValue) AttrNames() []string {
	return []string{"content_type", "filename", "read", "size"}
}

// ---------------------------------------------------------------------------
// response

// responseValue is the Starlark `response`, a view of r.Response.
type responseValue struct{ r *Request }

var (
	_ starlark.HasSetField    = (*responseValue)(nil)
	_ simplate.TemplateValuer = (*responseValue)(nil)
)

// newResponseValue returns the Starlark `response` of r: code, body,
// headers, set_cookie(...) and request. It holds no state of its own, so
// a new one may be made whenever it is needed.
func newResponseValue(r *Request) starlark.Value {
	return &responseValue{r: r}
}

var responseSetCookie = starlark.NewBuiltin("set_cookie", responseSetCookieFn)

func (rv *responseValue) String() string        { return fmt.Sprintf("<response %d>", rv.r.Response.Code) }
func (rv *responseValue) Type() string          { return "response" }
func (rv *responseValue) Freeze()               {} // per request, like request
func (rv *responseValue) Truth() starlark.Bool  { return starlark.True }
func (rv *responseValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: response") }

func (rv *responseValue) Attr(name string) (starlark.Value, error) {
	resp := rv.r.Response
	switch name {
	case "code":
		return starlark.MakeInt(resp.Code), nil
	case "body":
		if resp.value != nil {
			return resp.value, nil
		}
		if resp.Body != nil {
			return starlark.String(resp.Body), nil
		}
		return starlark.None, nil
	case "headers":
		return &headersValue{r: rv.r}, nil
	case "set_cookie":
		return responseSetCookie.BindReceiver(rv), nil
	case "request":
		return rv.r.Starlark(), nil
	}
	return nil, nil
}

func (rv *responseValue) AttrNames() []string {
	return []string{"body", "code", "headers", "request", "set_cookie"}
}

// SetField sets response.code (an int in 100..599) or response.body: a
// str or bytes is the body as is; None clears it; any other value is kept
// for the pipeline to encode as JSON.
func (rv *responseValue) SetField(name string, v starlark.Value) error {
	resp := rv.r.Response
	switch name {
	case "code":
		code, err := starlark.AsInt32(v)
		if err != nil {
			return fmt.Errorf("response.code: %w", err)
		}
		if err := checkCode(code); err != nil {
			return fmt.Errorf("response.code: %w", err)
		}
		resp.Code = code
		return nil
	case "body":
		resp.Body, resp.value = nil, nil
		switch v := v.(type) {
		case starlark.NoneType:
		case starlark.String:
			resp.Body = []byte(v)
		case starlark.Bytes:
			resp.Body = []byte(v)
		default:
			resp.value = v
		}
		return nil
	}
	return starlark.NoSuchAttrError(fmt.Sprintf("can't assign to .%s field of response", name))
}

// TemplateValue returns the response as template data: code and headers
// (the first value of each).
func (rv *responseValue) TemplateValue() any {
	resp := rv.r.Response
	return map[string]any{
		"code":    int64(resp.Code),
		"headers": firstValues(resp.Header),
	}
}

// responseSetCookieFn is response.set_cookie(name, value, max_age=None,
// path="/", domain=None, secure=False, httponly=True, samesite="Lax").
// max_age <= 0 deletes the cookie; samesite is "Lax", "Strict", "None"
// (which needs secure=True) or None for no SameSite attribute.
func responseSetCookieFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, value string
		maxAge      starlark.Value = starlark.None
		path                       = "/"
		domain      starlark.Value = starlark.None
		secure      bool
		httpOnly                   = true
		sameSite    starlark.Value = starlark.String("Lax")
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "value", &value, "max_age?", &maxAge, "path?", &path,
		"domain?", &domain, "secure?", &secure, "httponly?", &httpOnly, "samesite?", &sameSite); err != nil {
		return nil, err
	}
	c := &http.Cookie{Name: name, Value: value, Path: path, Secure: secure, HttpOnly: httpOnly}
	if maxAge != starlark.None {
		n, err := starlark.AsInt32(maxAge)
		if err != nil {
			return nil, fmt.Errorf("%s: max_age: %w", b.Name(), err)
		}
		if n > 0 {
			c.MaxAge = n
		} else {
			c.MaxAge = -1 // Max-Age=0: delete now
			c.Expires = time.Unix(0, 0)
		}
	}
	if domain != starlark.None {
		s, ok := starlark.AsString(domain)
		if !ok {
			return nil, fmt.Errorf("%s: domain must be str or None, not %s", b.Name(), domain.Type())
		}
		c.Domain = s
	}
	if sameSite != starlark.None {
		s, ok := starlark.AsString(sameSite)
		if !ok {
			return nil, fmt.Errorf("%s: samesite must be str or None, not %s", b.Name(), sameSite.Type())
		}
		switch strings.ToLower(s) {
		case "lax":
			c.SameSite = http.SameSiteLaxMode
		case "strict":
			c.SameSite = http.SameSiteStrictMode
		case "none":
			if !secure {
				return nil, fmt.Errorf("%s: samesite=\"None\" needs secure=True", b.Name())
			}
			c.SameSite = http.SameSiteNoneMode
		default:
			return nil, fmt.Errorf("%s: samesite must be \"Lax\", \"Strict\", \"None\" or None, not %q", b.Name(), s)
		}
	}
	if err := c.Valid(); err != nil {
		return nil, fmt.Errorf("%s(%q): %w", b.Name(), name, err)
	}
	b.Receiver().(*responseValue).r.Response.SetCookie(c)
	return starlark.None, nil
}

// ---------------------------------------------------------------------------
// response.headers

// headersValue is response.headers.
type headersValue struct{ r *Request }

var (
	_ starlark.Container = (*headersValue)(nil)
	_ starlark.HasAttrs  = (*headersValue)(nil)
	_ starlark.Mapping   = (*headersValue)(nil)
	_ starlark.HasSetKey = (*headersValue)(nil)
)

var headersMethods = map[string]*starlark.Builtin{
	"set":    starlark.NewBuiltin("set", headersSet),
	"add":    starlark.NewBuiltin("add", headersAdd),
	"get":    starlark.NewBuiltin("get", headersGet),
	"one":    starlark.NewBuiltin("one", headersGet),
	"all":    starlark.NewBuiltin("all", headersAll),
	"delete": starlark.NewBuiltin("delete", headersDelete),
}

func (h *headersValue) String() string       { return "<response.headers>" }
func (h *headersValue) Type() string         { return "response.headers" }
func (h *headersValue) Freeze()              {} // per request, like response
func (h *headersValue) Truth() starlark.Bool { return len(h.r.Response.Header) > 0 }
func (h *headersValue) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: response.headers")
}

func (h *headersValue) Attr(name string) (starlark.Value, error) {
	if m, ok := headersMethods[name]; ok {
		return m.BindReceiver(h), nil
	}
	return nil, nil
}

func (h *headersValue) AttrNames() []string {
	return []string{"add", "all", "delete", "get", "one", "set"}
}

func (h *headersValue) Has(k starlark.Value) (bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return false, nil
	}
	return len(h.r.Response.Header.Values(name)) > 0, nil
}

// Get is response.headers[name]: the first value; a header that is not
// set is an error, as a missing key of a dict is.
func (h *headersValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return nil, false, fmt.Errorf("response.headers: key must be str, not %s", k.Type())
	}
	if vs := h.r.Response.Header.Values(name); len(vs) > 0 {
		return starlark.String(vs[0]), true, nil
	}
	return nil, false, fmt.Errorf("response.headers: no header %q (use response.headers.get(name, default))", name)
}

// SetKey is response.headers[name] = value, as response.headers.set.
func (h *headersValue) SetKey(k, v starlark.Value) error {
	name, ok := starlark.AsString(k)
	if !ok {
		return fmt.Errorf("response.headers: key must be str, not %s", k.Type())
	}
	value, ok := starlark.AsString(v)
	if !ok {
		return fmt.Errorf("response.headers[%q]: value must be str, not %s", name, v.Type())
	}
	if err := checkHeader("response.headers", name, value); err != nil {
		return err
	}
	h.r.Response.Header.Set(name, value)
	return nil
}

// unpackHeader unpacks (name, value) and checks both.
func unpackHeader(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (name, value string, err error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "value", &value); err != nil {
		return "", "", err
	}
	if err := checkHeader(b.Name(), name, value); err != nil {
		return "", "", err
	}
	return name, value, nil
}

// checkHeader refuses a header name that is not a token and a value with
// control characters (which could split the response).
func checkHeader(what, name, value string) error {
	if !validHeaderName(name) {
		return fmt.Errorf("%s: invalid header name %q", what, name)
	}
	if strings.ContainsFunc(value, func(r rune) bool { return r != '\t' && isControl(r) }) {
		return fmt.Errorf("%s: invalid value for header %s: %q", what, name, value)
	}
	return nil
}

func headersSet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	name, value, err := unpackHeader(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	b.Receiver().(*headersValue).r.Response.Header.Set(name, value)
	return starlark.None, nil
}

func headersAdd(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	name, value, err := unpackHeader(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	b.Receiver().(*headersValue).r.Response.Header.Add(name, value)
	return starlark.None, nil
}

func headersGet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if vs := b.Receiver().(*headersValue).r.Response.Header.Values(name); len(vs) > 0 {
		return starlark.String(vs[0]), nil
	}
	return dflt, nil
}

func headersAll(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	vs := b.Receiver().(*headersValue).r.Response.Header.Values(name)
	elems := make([]starlark.Value, len(vs))
	for i, v := range vs {
		elems[i] = starlark.String(v)
	}
	return starlark.NewList(elems), nil
}

func headersDelete(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	b.Receiver().(*headersValue).r.Response.Header.Del(name)
	return starlark.None, nil
}

// validHeaderName reports whether name is an HTTP token (RFC 9110).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isControl reports whether r is an ASCII control character.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ---------------------------------------------------------------------------
// website

// websiteValue is the Starlark `website`: the attributes startup hooks set.
type websiteValue struct {
	w *Website

	mu   sync.Mutex
	tmpl map[string]any // TemplateValue, cached once the website has started
}

var (
	_ starlark.HasSetField    = (*websiteValue)(nil)
	_ simplate.TemplateValuer = (*websiteValue)(nil)
)

// Starlark returns the website as Starlark code sees it, `website`. Its
// attributes are those set with SetAttr; Starlark code assigns them
// (website.db = connect("todoy")) in startup hooks only. Call
// w.Starlark().Freeze() when startup ends: it freezes the attribute values,
// which every request then shares. Safe for concurrent use.
func (w *Website) Starlark() starlark.Value {
	w.mu.RLock()
	sl := w.sl
	w.mu.RUnlock()
	if sl != nil {
		return sl
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sl == nil {
		w.sl = &websiteValue{w: w}
	}
	return w.sl
}

func (wv *websiteValue) String() string        { return "<website>" }
func (wv *websiteValue) Type() string          { return "website" }
func (wv *websiteValue) Truth() starlark.Bool  { return starlark.True }
func (wv *websiteValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: website") }

// Freeze freezes every attribute value set so far.
func (wv *websiteValue) Freeze() {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	for _, v := range wv.w.attrs {
		v.Freeze()
	}
}

func (wv *websiteValue) Attr(name string) (starlark.Value, error) {
	if v, ok := wv.w.Attr(name); ok {
		return v, nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("website has no .%s attribute (startup hooks set them)", name))
}

func (wv *websiteValue) AttrNames() []string {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	names := make([]string, 0, len(wv.w.attrs))
	for name := range wv.w.attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// SetField is website.name = v; it fails once startup is over.
func (wv *websiteValue) SetField(name string, v starlark.Value) error {
	return wv.w.SetAttr(name, v)
}

// TemplateValue returns the website attributes converted with
// simplate.ToGo. Once the website has started its attributes no longer
// change, so the map is built once and shared; treat it as read-only.
func (wv *websiteValue) TemplateValue() any {
	wv.w.mu.RLock()
	started := wv.w.started
	wv.w.mu.RUnlock()
	if !started {
		return wv.buildTemplate()
	}
	wv.mu.Lock()
	defer wv.mu.Unlock()
	if wv.tmpl == nil {
		wv.tmpl = wv.buildTemplate()
	}
	return wv.tmpl
}

func (wv *websiteValue) buildTemplate() map[string]any {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	m := make(map[string]any, len(wv.w.attrs))
	for name, v := range wv.w.attrs {
		m[name] = simplate.ToGo(v)
	}
	return m
}
