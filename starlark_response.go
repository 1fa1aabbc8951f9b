package aspengo

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

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

// responseAttrs are the attributes of response: Attr and AttrNames both
// read this one table.
var responseAttrs = func() attrTable[*responseValue] {
	t := attrTable[*responseValue]{
		"code": func(rv *responseValue) (starlark.Value, error) { return starlark.MakeInt(rv.r.Response.Code), nil },
		"body": func(rv *responseValue) (starlark.Value, error) {
			resp := rv.r.Response
			if resp.value != nil {
				return resp.value, nil
			}
			if resp.Body != nil {
				return starlark.String(resp.Body), nil
			}
			return starlark.None, nil
		},
		"headers": func(rv *responseValue) (starlark.Value, error) { return &headersValue{r: rv.r}, nil },
		"request": func(rv *responseValue) (starlark.Value, error) { return rv.r.starlarkValue(), nil },
	}
	t.addMethods(map[string]*starlark.Builtin{"set_cookie": responseSetCookie})
	return t
}()

var responseAttrNames = responseAttrs.names()

func (rv *responseValue) Attr(name string) (starlark.Value, error) {
	if get, ok := responseAttrs[name]; ok {
		return get(rv)
	}
	return nil, nil
}

func (rv *responseValue) AttrNames() []string { return slices.Clone(responseAttrNames) }

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

// headersAttrs are the methods of response.headers.
var headersAttrs = func() attrTable[*headersValue] {
	t := attrTable[*headersValue]{}
	t.addMethods(headersMethods)
	return t
}()

var headersAttrNames = headersAttrs.names()

func (h *headersValue) Attr(name string) (starlark.Value, error) {
	if get, ok := headersAttrs[name]; ok {
		return get(h)
	}
	return nil, nil
}

func (h *headersValue) AttrNames() []string { return slices.Clone(headersAttrNames) }

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
