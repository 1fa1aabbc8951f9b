package aspengo

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// multiDict is request.qs, request.body or request.headers: names with
// one or more string values.
type multiDict struct {
	typ    string
	r      *Request
	values map[string][]string
	header bool                               // names are case-insensitive; Host is r.Host
	files  map[string][]*multipart.FileHeader // request.body of a multipart form

	// uploads is set on request.body, the one multiDict with file(name).
	uploads bool
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
	if name == "file" && !d.uploads {
		return nil, nil
	}
	if m, ok := multiDictMethods[name]; ok {
		return m.BindReceiver(d), nil
	}
	return nil, nil
}

func (d *multiDict) AttrNames() []string {
	names := make([]string, 0, len(multiDictMethods))
	for name := range multiDictMethods {
		if name != "file" || d.uploads {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
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

// uploadAttrs are the attributes of an uploaded file.
var uploadAttrs = func() attrTable[*uploadValue] {
	t := attrTable[*uploadValue]{
		"filename": func(u *uploadValue) (starlark.Value, error) { return starlark.String(u.fh.Filename), nil },
		"content_type": func(u *uploadValue) (starlark.Value, error) {
			return starlark.String(u.fh.Header.Get("Content-Type")), nil
		},
		"size": func(u *uploadValue) (starlark.Value, error) { return starlark.MakeInt64(u.fh.Size), nil },
	}
	t.addMethods(map[string]*starlark.Builtin{"read": uploadRead})
	return t
}()

var uploadAttrNames = uploadAttrs.names()

func (u *uploadValue) Attr(name string) (starlark.Value, error) {
	if get, ok := uploadAttrs[name]; ok {
		return get(u)
	}
	return nil, nil
}

func (u *uploadValue) AttrNames() []string { return slices.Clone(uploadAttrNames) }
