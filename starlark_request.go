package aspengo

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// requestValue is the Starlark `request`. It is created once per request
// (see Request.starlarkValue) and caches what it parses.
type requestValue struct {
	r *Request

	path    *pathValue
	qs      *multiDict
	headers *multiDict
	cookie  *starlark.Dict

	body *multiDict // made on first use; Request.Form parses

	jsonParsed bool
	json       starlark.Value
	jsonErr    error // raw read or decode error
}

var (
	_ starlark.HasAttrs             = (*requestValue)(nil)
	_ simplate.TemplateFieldsValuer = (*requestValue)(nil)
)

// starlarkValue returns the request as Starlark code sees it, `request`. It is
// created on first use and the same value is returned afterwards.
func (r *Request) starlarkValue() starlark.Value {
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

// requestAttrs are the built-in attributes of request: Attr and AttrNames
// both read this one table.
var requestAttrs = func() attrTable[*requestValue] {
	t := attrTable[*requestValue]{
		"method": func(rv *requestValue) (starlark.Value, error) { return starlark.String(rv.r.Method), nil },
		"path": func(rv *requestValue) (starlark.Value, error) {
			if rv.path == nil {
				rv.path = newPathValue(rv.r)
			}
			return rv.path, nil
		},
		"qs": func(rv *requestValue) (starlark.Value, error) {
			if rv.qs == nil {
				rv.qs = &multiDict{typ: "request.qs", r: rv.r, values: rv.r.URL.Query()}
			}
			return rv.qs, nil
		},
		"body": func(rv *requestValue) (starlark.Value, error) {
			if err := rv.parseBody(); err != nil {
				return nil, rv.bodyError(err)
			}
			return rv.body, nil
		},
		"json": (*requestValue).jsonValue,
		"headers": func(rv *requestValue) (starlark.Value, error) {
			if rv.headers == nil {
				rv.headers = &multiDict{typ: "request.headers", r: rv.r, values: rv.r.Header, header: true}
			}
			return rv.headers, nil
		},
		"cookie": func(rv *requestValue) (starlark.Value, error) {
			if rv.cookie == nil {
				rv.cookie = cookieDict(rv.r.Request)
			}
			return rv.cookie, nil
		},
		"url":  func(rv *requestValue) (starlark.Value, error) { return starlark.String(requestURL(rv.r.Request)), nil },
		"host": func(rv *requestValue) (starlark.Value, error) { return starlark.String(requestHost(rv.r.Request)), nil },
		"scheme": func(rv *requestValue) (starlark.Value, error) {
			return starlark.String(requestScheme(rv.r.Request)), nil
		},
		"version": func(rv *requestValue) (starlark.Value, error) { return starlark.String(rv.r.Proto), nil },
		"is_xhr": func(rv *requestValue) (starlark.Value, error) {
			return starlark.Bool(strings.EqualFold(rv.r.Header.Get("X-Requested-With"), "XMLHttpRequest")), nil
		},
	}
	for _, m := range methodAttrs {
		t[m] = func(rv *requestValue) (starlark.Value, error) { return starlark.Bool(rv.r.Method == m), nil }
	}
	t.addMethods(requestMethods)
	return t
}()

// requestAttrNames are the sorted names of requestAttrs.
var requestAttrNames = requestAttrs.names()

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
	if get, ok := requestAttrs[name]; ok {
		return get(rv)
	}
	r := rv.r
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
	names := make([]string, 0, len(requestAttrNames)+len(rv.r.attrs)+len(rv.r.lazy))
	names = append(names, requestAttrNames...)
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

// parseBody parses a form body once (Request.Form) and returns the
// parse error, if any; rv.body is set either way.
func (rv *requestValue) parseBody() error {
	form, err := rv.r.Form()
	if rv.body == nil {
		rv.body = &multiDict{typ: "request.body", r: rv.r, values: form, files: rv.r.body.files, uploads: true}
	}
	return err
}

// bodyError turns a body read error into the response that ends the
// request: 413 when the body is over the limit, else 400.
func (rv *requestValue) bodyError(err error) error {
	code := http.StatusBadRequest
	if BodyTooLarge(err) {
		code = http.StatusRequestEntityTooLarge
	}
	return stop(fmt.Sprintf("request.body: %v", err), rv.r.Abort(code, ""))
}

// jsonValue returns request.json.
func (rv *requestValue) jsonValue() (starlark.Value, error) {
	if !rv.jsonParsed {
		rv.jsonParsed = true
		rv.json, rv.jsonErr = rv.decodeJSON()
	}
	if rv.jsonErr != nil {
		code := http.StatusBadRequest
		if BodyTooLarge(rv.jsonErr) {
			code = http.StatusRequestEntityTooLarge
		}
		return nil, stop(fmt.Sprintf("request.json: %v", rv.jsonErr), rv.r.Abort(code, ""))
	}
	return rv.json, nil
}

// decodeJSON decodes a JSON body (Request.JSON); it returns None when the
// Content-Type is not JSON.
func (rv *requestValue) decodeJSON() (starlark.Value, error) {
	data, isJSON, err := rv.r.JSON()
	if err != nil {
		return nil, err
	}
	if !isJSON {
		return starlark.None, nil
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
	for name, f := range requestTemplateFields {
		m[name] = f(rv)
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

// requestTemplateFields are the fields of the template form of request
// that are not hook attributes: TemplateValue and TemplateFields both
// read this one table.
var requestTemplateFields = func() map[string]func(*requestValue) any {
	t := map[string]func(*requestValue) any{
		"method": func(rv *requestValue) any { return rv.r.Method },
		"path": func(rv *requestValue) any {
			path := map[string]any{"raw": rv.r.URL.Path}
			if rv.r.Resource != nil {
				for k, v := range rv.r.Resource.Vars {
					path[k] = templateVar(v)
				}
			}
			return path
		},
		"qs": func(rv *requestValue) any {
			if rv.qs != nil {
				return firstValues(rv.qs.values)
			}
			return firstValues(rv.r.URL.Query())
		},
		"body": func(rv *requestValue) any {
			// A multipart body that the page's code never read is not
			// parsed just for the template: it may be megabytes of uploads.
			if rv.r.body.formParsed || !isMultipart(rv.r.Request) {
				if rv.parseBody() == nil {
					return firstValues(rv.body.values)
				}
			}
			return map[string]string{}
		},
		"cookie": func(rv *requestValue) any {
			cookies := map[string]string{}
			for _, c := range rv.r.Cookies() {
				if _, dup := cookies[c.Name]; !dup {
					cookies[c.Name] = c.Value
				}
			}
			return cookies
		},
		"url":     func(rv *requestValue) any { return requestURL(rv.r.Request) },
		"host":    func(rv *requestValue) any { return requestHost(rv.r.Request) },
		"scheme":  func(rv *requestValue) any { return requestScheme(rv.r.Request) },
		"version": func(rv *requestValue) any { return rv.r.Proto },
		"is_xhr": func(rv *requestValue) any {
			return strings.EqualFold(rv.r.Header.Get("X-Requested-With"), "XMLHttpRequest")
		},
	}
	for _, m := range methodAttrs {
		t[m] = func(rv *requestValue) any { return rv.r.Method == m }
	}
	return t
}()

// templateField sets m[name] to the template form of the built-in field
// name and reports whether name is one.
func (rv *requestValue) templateField(m map[string]any, name string) bool {
	f, ok := requestTemplateFields[name]
	if ok {
		m[name] = f(rv)
	}
	return ok
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

// pathAttrs are the attributes of request.path; its virtual values are
// its keys.
var pathAttrs = func() attrTable[*pathValue] {
	t := attrTable[*pathValue]{
		"raw": func(p *pathValue) (starlark.Value, error) { return starlark.String(p.raw), nil },
	}
	t.addMethods(pathMethods)
	return t
}()

var pathAttrNames = pathAttrs.names()

func (p *pathValue) Attr(name string) (starlark.Value, error) {
	if get, ok := pathAttrs[name]; ok {
		return get(p)
	}
	return nil, nil
}

func (p *pathValue) AttrNames() []string { return slices.Clone(pathAttrNames) }

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
