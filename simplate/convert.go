package simplate

import (
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// TemplateValuer is implemented by Starlark values that supply their own
// form for templates (and for JSON encoding), such as the request,
// response and website of the root package. A returned starlark.Value is
// converted in turn (unless it is a TemplateValuer itself, which gives
// nil); any other Go value is used as it is.
type TemplateValuer interface {
	TemplateValue() any
}

// A TemplateFieldsValuer is a TemplateValuer that can also give only some
// of its fields: TemplateFields(names) is TemplateValue() with only the
// given fields (a map[string]any), for a template that can read no other.
// It lets a value skip fields that are costly to compute, such as a
// request's session, when the template never reads them.
type TemplateFieldsValuer interface {
	TemplateValuer
	TemplateFields(names []string) any
}

// maxDepth bounds the nesting ToGo follows, so that a list that contains
// itself does not recurse forever.
const maxDepth = 64

// maxValues bounds how many values one ToGo call converts. A few Starlark
// steps build a structure that shares itself (a = []; a.append(a);
// a.append(a)) which would take 2^64 steps to convert in full, beyond the
// reach of the step limit; past the budget values are cut off (nil).
const maxValues = 1 << 20

// converter carries the budget of one conversion.
type converter struct{ left int }

// ToGo converts a Starlark value into the Go value templates see:
//
//	None → nil, bool → bool, str and bytes → string, int → int64 (a
//	*big.Int when it does not fit), float → float64, list, tuple and set →
//	[]any, dict → map[string]any (keys that are not strings are written as
//	Starlark shows them: 1 → "1"), time.time → time.Time, time.duration →
//	time.Duration, a TemplateValuer → its TemplateValue, another value with
//	attributes → map[string]any of its attributes that are not callable,
//	a callable → nil, anything else → its Starlark string form.
//
// Structures nested deeper than 64 levels, and values past the first
// million of one conversion, are cut off (nil). The result
// is also suitable for encoding/json (maps, slices and basic values).
func ToGo(v starlark.Value) any {
	c := converter{left: maxValues}
	return c.toGo(v, 0)
}

func (c *converter) toGo(v starlark.Value, depth int) any {
	if depth > maxDepth || c.left <= 0 {
		return nil
	}
	c.left--
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return nil
	case TemplateValuer:
		x := v.TemplateValue()
		if sv, ok := x.(starlark.Value); ok {
			if _, again := sv.(TemplateValuer); again {
				return nil // no chains of TemplateValue, no loops
			}
			return c.toGo(sv, depth+1)
		}
		return x
	case starlark.Bool:
		return bool(v)
	case starlark.String:
		return string(v)
	case starlark.Bytes:
		return string(v)
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i
		}
		return v.BigInt()
	case starlark.Float:
		return float64(v)
	case starlarktime.Time:
		return time.Time(v)
	case starlarktime.Duration:
		return time.Duration(v)
	case *starlark.Dict:
		m := make(map[string]any, v.Len())
		for k, val := range v.Entries() {
			m[keyString(k)] = c.toGo(val, depth+1)
		}
		return m
	case *starlark.List:
		s := make([]any, v.Len())
		for i := range s {
			s[i] = c.toGo(v.Index(i), depth+1)
		}
		return s
	case starlark.Tuple:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = c.toGo(x, depth+1)
		}
		return s
	case *starlark.Set:
		s := make([]any, 0, v.Len())
		for x := range v.Elements() {
			s = append(s, c.toGo(x, depth+1))
		}
		return s
	case starlark.Callable:
		return nil
	case starlark.Indexable: // range, and other sequences
		s := make([]any, v.Len())
		for i := range s {
			s[i] = c.toGo(v.Index(i), depth+1)
		}
		return s
	case starlark.HasAttrs:
		names := v.AttrNames()
		m := make(map[string]any, len(names))
		for _, name := range names {
			x, err := v.Attr(name)
			if err != nil || x == nil {
				continue
			}
			if _, ok := x.(starlark.Callable); ok {
				continue
			}
			m[name] = c.toGo(x, depth+1)
		}
		return m
	case starlark.Iterable: // other collections
		s := []any{}
		for x := range starlark.Elements(v) {
			s = append(s, c.toGo(x, depth+1))
		}
		return s
	}
	return v.String()
}

// keyString is the template map key for the dict key k.
func keyString(k starlark.Value) string {
	if s, ok := k.(starlark.String); ok {
		return string(s)
	}
	return k.String()
}

// addTemplateData adds the values of d, converted, to the template data
// m, leaving out callables.
func addTemplateData(m map[string]any, d starlark.StringDict) {
	c := converter{left: maxValues}
	for name, v := range d {
		if _, ok := v.(starlark.Callable); ok {
			continue
		}
		m[name] = c.toGo(v, 0)
	}
}
