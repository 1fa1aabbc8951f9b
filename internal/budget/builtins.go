package budget

import (
	"fmt"
	"strings"
	"unicode"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Builtins returns the checked functions: those that shadow Starlark's
// built-in functions (str, repr, print, fail, list, tuple, dict, set,
// sorted, reversed, enumerate, zip, bytes, min, max, any, all) and those
// that code rewritten by Rewrite calls for operators and methods, under
// names no source text can spell. Add them to the predeclared names of
// every program that Rewrite compiled.
func Builtins() starlark.StringDict {
	d := starlark.StringDict{
		"str":   renderBuiltin("str", strSize),
		"repr":  renderBuiltin("repr", reprSize),
		"print": renderArgsBuiltin("print"),
		"fail":  renderArgsBuiltin("fail"),
	}
	for name, per := range map[string]int64{
		"list": wordSize, "tuple": wordSize, "sorted": wordSize, "reversed": wordSize,
		"set": entrySize, "dict": entrySize,
		"enumerate": wordSize + pairSize, "zip": wordSize + pairSize,
		"bytes": 1,
		"min":   0, "max": 0, "any": 0, "all": 0,
	} {
		d[name] = iterBuiltin(name, per)
	}
	for _, op := range rewrittenOps {
		d[opName(op)] = opBuiltin(op)
	}
	for _, op := range rewrittenAugOps {
		d[augName(op)] = augBuiltin(op)
	}
	for name := range rewrittenMethods {
		d[methodName(name)] = methodBuiltin(name)
	}
	d[bindName] = starlark.NewBuiltin("getattr", bindMethod)
	d[sliceName] = starlark.NewBuiltin("slice", chargeSlice)
	d["getattr"] = starlark.NewBuiltin("getattr", checkedGetattr)
	return d
}

// sliceName is what Rewrite calls for the x of x[lo:hi:step].
const sliceName = "$slice"

// chargeSlice is $slice(x, lo, hi, step): it charges for the copy that
// slicing a list or tuple x makes, and returns x.
func chargeSlice(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("internal error: $slice takes 4 arguments")
	}
	x := args[0]
	switch x.(type) {
	case *starlark.List, starlark.Tuple:
	default:
		return x, nil // strings and bytes share memory; ranges compute
	}
	n := int64(starlark.Len(x))
	lo, hi, step := int64(0), n, int64(1)
	clamp := func(v starlark.Value, def int64) int64 {
		i, ok := v.(starlark.Int)
		if !ok {
			return def
		}
		k, ok := i.Int64()
		switch {
		case !ok:
			return def
		case k < 0:
			k += n
		}
		return max(0, min(n, k))
	}
	if s, ok := args[3].(starlark.Int); ok {
		if k, ok := s.Int64(); ok && k != 0 {
			step = k
		}
	}
	size := n
	if step == 1 {
		lo, hi = clamp(args[1], 0), clamp(args[2], n)
		size = max(0, hi-lo)
	} else if step > 1 || step < -1 {
		size = n/max(step, -step) + 1
	}
	return x, Of(thread).Charge("slice", wordSize*size)
}

// bindName is what Rewrite calls for x.name where name is a checked
// method and the method is not called at once (f = s.join).
const bindName = "$bind"

// bindMethod is $bind(x, name): x's attribute name, as a function that
// charges like x.name(...) does when x is a str, list, dict or set.
func bindMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("internal error: $bind takes 2 arguments")
	}
	recv := args[0]
	name, _ := starlark.AsString(args[1])
	v, err := attr(recv, name)
	if err != nil {
		return nil, err
	}
	return bound(recv, name, v), nil
}

// bound returns the checked method for the attribute v = recv.name, or v
// when it needs no check.
func bound(recv starlark.Value, name string, v starlark.Value) starlark.Value {
	if _, ok := v.(*starlark.Builtin); !ok || !rewrittenMethods[name] {
		return v
	}
	switch recv.(type) {
	case starlark.String, *starlark.List, *starlark.Dict, *starlark.Set:
	default:
		return v
	}
	m := methodBuiltin(name)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return m.CallInternal(thread, append(starlark.Tuple{recv}, args...), kwargs)
	}).BindReceiver(recv)
}

// attr returns x.name, with Starlark's error when x has no such
// attribute.
func attr(x starlark.Value, name string) (starlark.Value, error) {
	if ha, ok := x.(starlark.HasAttrs); ok {
		v, err := ha.Attr(name)
		if err != nil || v != nil {
			return v, err
		}
	}
	return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
}

// checkedGetattr is getattr, returning checked methods.
func checkedGetattr(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	v, err := universe("getattr").CallInternal(thread, args, kwargs)
	if err != nil || len(args) < 2 {
		return v, err
	}
	name, _ := starlark.AsString(args[1])
	return bound(args[0], name, v), nil
}

// universe returns Starlark's own built-in function name.
func universe(name string) *starlark.Builtin {
	return starlark.Universe[name].(*starlark.Builtin)
}

// renderBuiltin checks str or repr: the size of the result is estimated
// (and the value's depth checked) before it is made.
func renderBuiltin(name string, size func(*starlark.Thread, string, starlark.Value, int64) (int64, error)) *starlark.Builtin {
	orig := universe(name)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) == 1 && len(kwargs) == 0 {
			b := Of(thread)
			n, err := size(thread, name, args[0], b.remaining())
			if err != nil {
				return nil, err
			}
			if err := b.Charge(name, n); err != nil {
				return nil, err
			}
		}
		return orig.CallInternal(thread, args, kwargs)
	})
}

// renderArgsBuiltin checks print or fail, which render all their
// arguments.
func renderArgsBuiltin(name string) *starlark.Builtin {
	orig := universe(name)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		b := Of(thread)
		var total int64
		add := func(v starlark.Value) error {
			n, err := strSize(thread, name, v, b.remaining()-total)
			total += n + 1
			return err
		}
		for _, a := range args {
			if err := add(a); err != nil {
				return nil, err
			}
		}
		for _, kv := range kwargs {
			if err := add(kv[1]); err != nil {
				return nil, err
			}
		}
		if err := b.Charge(name, total); err != nil {
			return nil, err
		}
		return orig.CallInternal(thread, args, kwargs)
	})
}

// iterBuiltin checks a built-in function that iterates over its
// arguments, allocating per bytes for each element taken: an argument of
// known length is charged in full before the call; any other iterable is
// metered while the function runs. Arguments of known length are also
// metered when per is 0 (min, max, any, all), so that a long range is
// cancellable.
func iterBuiltin(name string, per int64) *starlark.Builtin {
	orig := universe(name)
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var m *meter
		wrapped := args
		for i, a := range args {
			n := starlark.Len(a)
			if _, ok := a.(starlark.Iterable); !ok || n >= 0 && (per > 0 || n <= pollEvery) {
				if err := Of(thread).Charge(name, per*int64(n)); err != nil {
					return nil, err
				}
				continue
			}
			if m == nil {
				m = newMeter(thread, name, per)
				wrapped = append(starlark.Tuple(nil), args...)
			}
			wrapped[i] = m.wrap(a)
		}
		res, err := orig.CallInternal(thread, wrapped, kwargs)
		if m != nil && m.err != nil {
			return nil, m.err
		}
		return res, err
	})
}

// methodBuiltin returns the function that Rewrite calls for x.name(...)
// (with x as its first argument): if x is a string, list, dict or set,
// it charges the estimated size of the result first; in every case it
// then calls x's own method.
func methodBuiltin(name string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("%s: internal error: no receiver", name)
		}
		recv, rest := args[0], args[1:]
		n, rest, err := methodSize(thread, name, recv, rest, kwargs)
		if err != nil {
			return nil, err
		}
		if err := Of(thread).Charge(name, n); err != nil {
			return nil, err
		}
		fn, err := attr(recv, name)
		if err != nil {
			return nil, err
		}
		return starlark.Call(thread, fn, rest, kwargs)
	})
}

// methodSize estimates what recv.name(*args, **kwargs) allocates. It may
// return args with an iterable of unknown length replaced by a snapshot
// of its elements (charged for), so that its length is known.
func methodSize(thread *starlark.Thread, name string, recv starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) (int64, starlark.Tuple, error) {
	// argLen returns the length of args[i], snapshotting it if needed.
	argLen := func(i int) (int64, error) {
		if i >= len(args) {
			return 0, nil
		}
		if n := starlark.Len(args[i]); n >= 0 {
			return int64(n), nil
		}
		it, ok := args[i].(starlark.Iterable)
		if !ok {
			return 0, nil
		}
		snap, err := snapshot(thread, name, it)
		if err != nil {
			return 0, err
		}
		args = append(starlark.Tuple(nil), args...)
		args[i] = snap
		return int64(len(snap)), nil
	}
	switch r := recv.(type) {
	case starlark.String:
		s := string(r)
		switch name {
		case "join":
			if len(args) != 1 {
				return 0, args, nil
			}
			if _, err := argLen(0); err != nil {
				return 0, args, err
			}
			size, err := joinSize(thread, len(s), args[0])
			return size, args, err
		case "replace":
			if len(args) < 2 {
				return 0, args, nil
			}
			old, ok1 := args[0].(starlark.String)
			repl, ok2 := args[1].(starlark.String)
			if !ok1 || !ok2 || len(repl) <= len(old) {
				return int64(len(s)), args, nil
			}
			k := int64(strings.Count(s, string(old)))
			if len(args) > 2 {
				if c, ok := args[2].(starlark.Int); ok {
					if c64, ok := c.Int64(); ok && c64 >= 0 && c64 < k {
						k = c64
					}
				}
			}
			grow := int64(len(repl) - len(old))
			if k > 0 && grow > (Of(thread).remaining())/k {
				return Of(thread).remaining() + 1, args, nil
			}
			return int64(len(s)) + k*grow, args, nil
		case "format":
			vals := append(starlark.Tuple(nil), args...)
			for _, kv := range kwargs {
				vals = append(vals, kv[1])
			}
			size, err := formatSize(thread, Of(thread), "format", s, vals)
			return size, args, err
		case "split", "rsplit":
			pieces := fieldCount(s)
			if len(args) > 0 {
				if sep, ok := args[0].(starlark.String); ok && len(sep) > 0 {
					pieces = int64(strings.Count(s, string(sep))) + 1
				}
			}
			if len(args) > 1 {
				if m, ok := args[1].(starlark.Int); ok {
					if m64, ok := m.Int64(); ok && m64 >= 0 && m64+1 < pieces {
						pieces = m64 + 1
					}
				}
			}
			return pieces * 2 * wordSize, args, nil
		case "splitlines":
			return (int64(strings.Count(s, "\n")+strings.Count(s, "\r")) + 1) * 2 * wordSize, args, nil
		case "lower", "upper", "title", "capitalize":
			return 2 * int64(len(s)), args, nil
		}
	case *starlark.List:
		if name == "extend" {
			n, err := argLen(0)
			return wordSize * n, args, err
		}
	case *starlark.Dict:
		switch name {
		case "update":
			n, err := argLen(0)
			return entrySize * (n + int64(len(kwargs))), args, err
		case "keys", "values":
			return wordSize * int64(r.Len()), args, nil
		case "items":
			return (wordSize + pairSize) * int64(r.Len()), args, nil
		}
	case *starlark.Set:
		switch name {
		case "union", "symmetric_difference", "difference", "intersection", "update":
			total := int64(r.Len())
			for i := range args {
				n, err := argLen(i)
				if err != nil {
					return 0, args, err
				}
				total += n
			}
			return entrySize * total, args, nil
		}
	}
	return 0, args, nil
}

// joinSize is the size of sep.join(parts) for a separator of sepLen
// bytes and parts of known length.
func joinSize(thread *starlark.Thread, sepLen int, parts starlark.Value) (int64, error) {
	idx, ok := parts.(starlark.Indexable)
	if !ok {
		return 0, nil
	}
	n := idx.Len()
	var size int64
	if n > 1 {
		size = int64(sepLen) * int64(n-1)
	}
	for i := 0; i < n; i++ {
		if s, ok := idx.Index(i).(starlark.String); ok {
			size += int64(len(s))
		}
		if i%(pollEvery*16) == pollEvery*16-1 {
			if err := poll(thread); err != nil {
				return 0, err
			}
		}
	}
	return size, nil
}

// fieldCount is an upper bound of the number of fields split() without a
// separator gives.
func fieldCount(s string) int64 {
	n, in := int64(0), false
	for _, r := range s {
		sp := unicode.IsSpace(r)
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n + 1
}

// Names under which Rewrite's calls find the checked functions. They
// start with "$", which no identifier in source text can.
func opName(op syntax.Token) string  { return "$" + op.String() }
func augName(op syntax.Token) string { return "$" + op.String() + "=" }
func methodName(m string) string     { return "$." + m }

var (
	// rewrittenOps are the binary operators that may amplify.
	rewrittenOps = []syntax.Token{syntax.PLUS, syntax.STAR, syntax.PERCENT, syntax.PIPE}
	// rewrittenAugOps are the augmented assignments that may amplify,
	// with the binary operator each applies.
	// (|= is left alone: it updates a dict in place, by at most the
	// size of its right operand.)
	rewrittenAugOps = []syntax.Token{syntax.PLUS, syntax.STAR, syntax.PERCENT}
	// rewrittenMethods are the methods of str, list, dict and set that
	// may allocate more than their receiver and arguments hold.
	rewrittenMethods = map[string]bool{
		"join": true, "replace": true, "format": true, "split": true, "rsplit": true,
		"splitlines": true, "lower": true, "upper": true, "title": true, "capitalize": true,
		"extend": true, "update": true, "keys": true, "values": true, "items": true,
		"union": true, "symmetric_difference": true, "difference": true, "intersection": true,
	}
)
