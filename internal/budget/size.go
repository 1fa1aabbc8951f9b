package budget

import (
	"unicode"
	"unicode/utf8"

	"go.starlark.net/starlark"
)

// Estimated sizes in bytes of what the operations allocate.
const (
	wordSize  = 16 // one starlark.Value in a list or tuple (an interface)
	entrySize = 64 // one dict or set entry, with its share of the table
	pairSize  = 48 // a 2-tuple made by enumerate, zip or dict.items
)

// pollEvery is how many elements an iterating built-in handles between
// two checks for cancellation.
const pollEvery = 256

// noop is a Starlark function that does nothing; calling it checks
// whether the thread was cancelled (and counts a step), which Go code
// cannot ask directly.
var noop = func() *starlark.Function {
	g, err := starlark.ExecFile(&starlark.Thread{Name: "budget"}, "budget", "def noop():\n    pass\n", nil)
	if err != nil {
		panic(err)
	}
	return g["noop"].(*starlark.Function)
}()

// poll returns an error if thread was cancelled or ran out of steps.
func poll(thread *starlark.Thread) error {
	_, err := starlark.Call(thread, noop, nil, nil)
	return err
}

// sizer estimates, from above, the length of a value's repr, giving up
// as soon as the estimate passes max or the value nests deeper than
// MaxDepth. Containers on the current path are cycles and print as
// "[...]", as Starlark prints them.
type sizer struct {
	thread *starlark.Thread
	op     string
	max    int64
	n      int64
	nodes  int
	path   map[starlark.Value]bool
	err    error
}

// reprSize returns an upper estimate of len(repr(v)), or a *LimitError
// if it exceeds max or v nests too deeply, or the thread's cancellation.
func reprSize(thread *starlark.Thread, op string, v starlark.Value, max int64) (int64, error) {
	if n, ok := scalarSize(v); ok && n <= max {
		return n, nil // the common case, without a walk
	}
	s := sizer{thread: thread, op: op, max: max}
	s.walk(v, 0)
	return s.n, s.err
}

// scalarSize is the repr size of a value that contains no other value.
func scalarSize(v starlark.Value) (int64, bool) {
	switch v := v.(type) {
	case starlark.NoneType, starlark.Bool:
		return 5, true
	case starlark.Int:
		if _, ok := v.Int64(); ok {
			return 20, true
		}
	case starlark.Float:
		return 32, true
	case starlark.String:
		return quotedLen(string(v)), true
	}
	return 0, false
}

// add adds k to the estimate and reports whether to go on.
func (s *sizer) add(k int64) bool {
	s.n += k
	if s.n > s.max && s.err == nil {
		s.err = &LimitError{Op: s.op, Size: s.n, Limit: Of(s.thread).Limit()}
	}
	return s.err == nil
}

func (s *sizer) walk(v starlark.Value, depth int) {
	if s.err != nil {
		return
	}
	if depth > MaxDepth {
		s.err = &LimitError{Op: s.op, Depth: MaxDepth}
		return
	}
	if s.nodes++; s.nodes%(pollEvery*16) == 0 {
		if err := poll(s.thread); err != nil {
			s.err = err
			return
		}
	}
	switch v := v.(type) {
	case starlark.NoneType, starlark.Bool:
		s.add(5)
	case starlark.Int:
		if _, ok := v.Int64(); ok {
			s.add(20)
		} else {
			s.add(int64(v.BigInt().BitLen())/3 + 2)
		}
	case starlark.Float:
		s.add(32)
	case starlark.String:
		s.add(quotedLen(string(v)))
	case starlark.Bytes:
		s.add(4*int64(len(v)) + 3)
	case *starlark.List, *starlark.Set:
		s.container(v, depth)
	case starlark.Tuple:
		s.add(3)
		for _, x := range v {
			if !s.add(2) {
				return
			}
			s.walk(x, depth+1)
		}
	case *starlark.Dict:
		if s.path[v] {
			s.add(5)
			return
		}
		s.enter(v)
		defer delete(s.path, v)
		s.add(2)
		for k, x := range v.Entries() {
			if !s.add(4) {
				return
			}
			s.walk(k, depth+1)
			s.walk(x, depth+1)
			if s.err != nil {
				return
			}
		}
	default:
		s.add(int64(len(v.String())))
	}
}

func (s *sizer) enter(v starlark.Value) {
	if s.path == nil {
		s.path = map[starlark.Value]bool{}
	}
	s.path[v] = true
}

// container walks a list or set, which may be part of a cycle.
func (s *sizer) container(v starlark.Value, depth int) {
	if s.path[v] {
		s.add(5)
		return
	}
	s.enter(v)
	defer delete(s.path, v)
	s.add(7) // "set([" and "])"
	for x := range starlark.Elements(v.(starlark.Iterable)) {
		if !s.add(2) {
			return
		}
		s.walk(x, depth+1)
	}
}

// quotedLen returns an upper bound of the length of s quoted as Starlark
// quotes it: printable runes as they are, others escaped (\n, \x7f,
// \u0085, \U0010ffff), invalid bytes as \xff.
func quotedLen(s string) int64 {
	n := int64(2)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\'':
				n += 2
			case c < 0x20 || c == 0x7f:
				n += 4
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 4
		case !unicode.IsPrint(r):
			n += 10
		default:
			n += int64(size)
		}
		i += size
	}
	return n
}

// strSize is reprSize for str(v): a string is itself, unquoted.
func strSize(thread *starlark.Thread, op string, v starlark.Value, max int64) (int64, error) {
	switch v := v.(type) {
	case starlark.String:
		return int64(len(v)), nil
	case starlark.Bytes:
		return 3 * int64(len(v)), nil // each invalid byte may become U+FFFD
	}
	return reprSize(thread, op, v, max)
}
