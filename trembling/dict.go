package trembling

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
	"github.com/aspengo/aspengo/trembling/session"
)

// maxDepth bounds the nesting of session values, as package session does.
const maxDepth = 64

// sessionDict is request.session: a dict with str keys whose values are
// checked to be JSON-like when they are stored.
type sessionDict struct {
	d *starlark.Dict
}

var (
	_ starlark.HasSetKey       = (*sessionDict)(nil)
	_ starlark.IterableMapping = (*sessionDict)(nil)
	_ starlark.Sequence        = (*sessionDict)(nil)
	_ starlark.HasAttrs        = (*sessionDict)(nil)
	_ simplate.TemplateValuer  = (*sessionDict)(nil)
)

var sessionMethods = map[string]*starlark.Builtin{
	"clear":      starlark.NewBuiltin("clear", sessionClear),
	"get":        starlark.NewBuiltin("get", sessionGet),
	"items":      starlark.NewBuiltin("items", sessionItems),
	"keys":       starlark.NewBuiltin("keys", sessionKeys),
	"pop":        starlark.NewBuiltin("pop", sessionPop),
	"setdefault": starlark.NewBuiltin("setdefault", sessionSetdefault),
	"update":     starlark.NewBuiltin("update", sessionUpdate),
	"values":     starlark.NewBuiltin("values", sessionValues),
}

func (s *sessionDict) String() string        { return s.d.String() }
func (s *sessionDict) Type() string          { return "session" }
func (s *sessionDict) Freeze()               {} // per request, like request itself
func (s *sessionDict) Truth() starlark.Bool  { return s.d.Len() > 0 }
func (s *sessionDict) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: session") }
func (s *sessionDict) Len() int              { return s.d.Len() }

// Iterate yields the keys, as for a dict.
func (s *sessionDict) Iterate() starlark.Iterator { return s.d.Iterate() }

// Items returns the (key, value) pairs, for dict(request.session).
func (s *sessionDict) Items() []starlark.Tuple { return s.d.Items() }

// Get is request.session[key], and defines `key in request.session`.
func (s *sessionDict) Get(k starlark.Value) (starlark.Value, bool, error) {
	return s.d.Get(k)
}

// SetKey is request.session[key] = v: key must be a str other than the
// reserved one, v a JSON-like value.
func (s *sessionDict) SetKey(k, v starlark.Value) error {
	key, err := sessionKeyOf(k)
	if err != nil {
		return err
	}
	if _, err := fromStarlark(key, v); err != nil {
		return err
	}
	return s.d.SetKey(k, v)
}

func (s *sessionDict) Attr(name string) (starlark.Value, error) {
	if m, ok := sessionMethods[name]; ok {
		return m.BindReceiver(s), nil
	}
	return nil, nil
}

func (s *sessionDict) AttrNames() []string {
	names := make([]string, 0, len(sessionMethods))
	for n := range sessionMethods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TemplateValue gives templates the session as a map: {{ .request.session.count }}.
func (s *sessionDict) TemplateValue() any { return simplate.ToGo(s.d) }

// sessionKeyOf checks that k may be a key of request.session.
func sessionKeyOf(k starlark.Value) (string, error) {
	key, ok := k.(starlark.String)
	if !ok {
		return "", fmt.Errorf("request.session: keys must be str, not %s", k.Type())
	}
	return string(key), checkKey(string(key))
}

// checkKey refuses the reserved key and keys that are not UTF-8.
func checkKey(key string) error {
	if key == messagesKey {
		return fmt.Errorf("request.session: the key %q is reserved for messages; use add_message(request, text)", key)
	}
	if key == loginKey {
		return fmt.Errorf("request.session: the key %q is reserved for the login; use login(request, username, password) and logout(request)", key)
	}
	if !utf8.ValidString(key) {
		return &session.ValueError{Path: strconv.Quote(key), Reason: "key is not valid UTF-8"}
	}
	return nil
}

func sessionOf(b *starlark.Builtin) *sessionDict { return b.Receiver().(*sessionDict) }

// sessionGet is get(key, default=None).
func sessionGet(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, dflt starlark.Value = nil, starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &dflt); err != nil {
		return nil, err
	}
	v, found, err := sessionOf(b).d.Get(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !found {
		return dflt, nil
	}
	return v, nil
}

// sessionPop is pop(key[, default]): it removes key and returns its
// value, or default; a missing key without a default is an error.
func sessionPop(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, dflt starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &dflt); err != nil {
		return nil, err
	}
	v, found, err := sessionOf(b).d.Delete(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if found {
		return v, nil
	}
	if dflt != nil {
		return dflt, nil
	}
	return nil, fmt.Errorf("%s: missing key %v", b.Name(), key)
}

// sessionSetdefault is setdefault(key, default=None).
func sessionSetdefault(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, dflt starlark.Value = nil, starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &dflt); err != nil {
		return nil, err
	}
	s := sessionOf(b)
	if v, found, err := s.d.Get(key); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	} else if found {
		return v, nil
	}
	if err := s.SetKey(key, dflt); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return dflt, nil
}

// sessionUpdate is update([pairs or mapping], **kwargs). Every value is
// checked before any is stored.
func sessionUpdate(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("%s: got %d arguments, want at most 1", b.Name(), len(args))
	}
	var pairs []starlark.Tuple
	if len(args) == 1 {
		switch x := args[0].(type) {
		case starlark.IterableMapping:
			pairs = x.Items()
		case starlark.Iterable:
			it := x.Iterate()
			defer it.Done()
			var p starlark.Value
			for i := 0; it.Next(&p); i++ {
				pair, ok := p.(starlark.Indexable)
				if !ok || pair.Len() != 2 {
					return nil, fmt.Errorf("%s: element #%d is not a pair", b.Name(), i)
				}
				pairs = append(pairs, starlark.Tuple{pair.Index(0), pair.Index(1)})
			}
		default:
			return nil, fmt.Errorf("%s: got %s, want a dict or an iterable of pairs", b.Name(), x.Type())
		}
	}
	pairs = append(pairs, kwargs...)
	for _, p := range pairs {
		key, err := sessionKeyOf(p[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if _, err := fromStarlark(key, p[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	s := sessionOf(b)
	for _, p := range pairs {
		if err := s.d.SetKey(p[0], p[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	return starlark.None, nil
}

func sessionKeys(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.NewList(sessionOf(b).d.Keys()), nil
}

func sessionValues(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	items := sessionOf(b).d.Items()
	vals := make([]starlark.Value, len(items))
	for i, it := range items {
		vals[i] = it[1]
	}
	return starlark.NewList(vals), nil
}

func sessionItems(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	items := sessionOf(b).d.Items()
	vals := make([]starlark.Value, len(items))
	for i, it := range items {
		vals[i] = it
	}
	return starlark.NewList(vals), nil
}

func sessionClear(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	if err := sessionOf(b).d.Clear(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// ---------------------------------------------------------------------------
// conversion

// fromStarlark converts the value v stored under key to session data: str
// → string, int → int64, float → float64, bool, None → nil, list → []any,
// dict with str keys → map[string]any. Anything else, an int beyond 64
// bits, a float that is not finite or a str that is not UTF-8 is a
// *session.ValueError naming key and the path inside the value.
func fromStarlark(key string, v starlark.Value) (any, error) {
	g, e := fromStarlarkAt(v, 0)
	if e != nil {
		return nil, e.finish(key)
	}
	return g, nil
}

// pathErr is a *session.ValueError under construction, its path elements
// collected innermost first.
type pathErr struct {
	rev    []string
	reason string
}

func (e *pathErr) finish(key string) *session.ValueError {
	var b strings.Builder
	b.WriteString(strconv.Quote(key))
	for i := len(e.rev) - 1; i >= 0; i-- {
		b.WriteString(e.rev[i])
	}
	return &session.ValueError{Path: b.String(), Reason: e.reason}
}

const allowedValues = "a session keeps only str, int, float, bool, None, and lists and dicts of them"

func fromStarlarkAt(v starlark.Value, depth int) (any, *pathErr) {
	if depth > maxDepth {
		return nil, &pathErr{reason: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.String:
		if !utf8.ValidString(string(v)) {
			return nil, &pathErr{reason: "str is not valid UTF-8"}
		}
		return string(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, &pathErr{reason: fmt.Sprintf("int %v does not fit in 64 bits", v)}
		}
		return i, nil
	case starlark.Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &pathErr{reason: fmt.Sprintf("float %v cannot be kept in a session", v)}
		}
		return f, nil
	case *starlark.List:
		out := make([]any, v.Len())
		for i := range out {
			x, e := fromStarlarkAt(v.Index(i), depth+1)
			if e != nil {
				e.rev = append(e.rev, "["+strconv.Itoa(i)+"]")
				return nil, e
			}
			out[i] = x
		}
		return out, nil
	case *starlark.Dict:
		out := make(map[string]any, v.Len())
		for k, x := range v.Entries() {
			ks, ok := k.(starlark.String)
			if !ok {
				return nil, &pathErr{reason: fmt.Sprintf("dict key %s is a %s; a session's dict keys must be str", k, k.Type())}
			}
			if !utf8.ValidString(string(ks)) {
				return nil, &pathErr{reason: fmt.Sprintf("dict key %s is not valid UTF-8", ks)}
			}
			g, e := fromStarlarkAt(x, depth+1)
			if e != nil {
				e.rev = append(e.rev, "["+strconv.Quote(string(ks))+"]")
				return nil, e
			}
			out[string(ks)] = g
		}
		return out, nil
	}
	return nil, &pathErr{reason: fmt.Sprintf("a %s cannot be kept in a session (%s)", v.Type(), allowedValues)}
}

// toStarlark converts session data to new mutable Starlark values; map
// keys come out sorted.
func toStarlark(v any, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case string:
		return starlark.String(v), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case float64:
		return starlark.Float(v), nil
	case []any:
		elems := make([]starlark.Value, len(v))
		for i, x := range v {
			sv, err := toStarlark(x, depth+1)
			if err != nil {
				return nil, err
			}
			elems[i] = sv
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		d := starlark.NewDict(len(v))
		for _, k := range keys {
			sv, err := toStarlark(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			d.SetKey(starlark.String(k), sv)
		}
		return d, nil
	}
	return nil, fmt.Errorf("a session value of Go type %T", v)
}

// dictFromData makes the Starlark dict of request.session from stored
// session data, leaving out the keys that hold messages and the login.
func dictFromData(data map[string]any) (*starlark.Dict, error) {
	keys := make([]string, 0, len(data))
	for k := range data {
		if k != messagesKey && k != seedKey && k != loginKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	d := starlark.NewDict(len(keys))
	for _, k := range keys {
		sv, err := toStarlark(data[k], 0)
		if err != nil {
			return nil, fmt.Errorf("trembling: loading session key %q: %w", k, err)
		}
		d.SetKey(starlark.String(k), sv)
	}
	return d, nil
}
