// Package budget bounds what one Starlark execution (a request) may
// allocate and how deeply the values it prints may nest.
//
// Starlark counts steps, not bytes: one step such as "a" * n, [0] * n,
// list(range(n)) or str() of a deeply nested list can allocate without
// bound or run for seconds inside one built-in call. aspengo compiles
// every page and module itself, so it closes that gap at compile time:
// [Rewrite] routes the operators that amplify (+, *, %, | and their
// augmented forms) and the string, list, dict and set methods that
// amplify through checked functions, and [Builtins] shadows the built-in
// functions that amplify (str, repr, list, sorted, enumerate ...) with
// checked ones. Each check charges the size of the result to the
// thread's [Budget] before allocating when that size is computable
// ("a" * n, [0] * n, list(range(n))), and refuses the operation with a
// *[LimitError] once the budget would be exceeded.
//
// What is charged is an estimate of the bytes each operation allocates,
// summed over the execution (memory that the garbage collector later
// frees is not given back), so a page that builds a long string with
// s = s + x in a loop pays for every intermediate copy; "".join(parts)
// pays once. Values printed by str, repr, print, fail, % and format may
// nest at most [MaxDepth] levels.
//
// Built-in functions that iterate (min, max, any, all, sorted, list ...)
// check, every few hundred elements, whether the thread was cancelled,
// so a cancelled request stops promptly even inside one call.
//
// Limits: allocation of a few words per step (appending in a loop, list
// comprehensions, dict and set entries one at a time) is bounded by the
// step limit, not by the budget; so is slicing a list whose bounds are
// computed by a call (x[f():]), which is not rewritten because its
// bounds would be evaluated twice. A method taken from a module or
// struct of Go code is not checked. Functions of Go packages other than
// Starlark's own (json, the database, templates) bound their work by
// their input size.
package budget

import (
	"fmt"

	"go.starlark.net/starlark"
)

// DefaultLimit is the budget of one execution when none is given: 64 MiB.
const DefaultLimit = 64 << 20

// MaxDepth is how deeply a value may nest for str, repr, print, fail, %
// and format to render it.
const MaxDepth = 1000

// localKey is the thread-local key of the *Budget.
const localKey = "aspengo.budget"

// A Budget is the allocation allowance of one Starlark thread. It is
// used by one goroutine at a time, as a thread is.
type Budget struct {
	limit int64
	used  int64
}

// Install gives thread a fresh budget of limit bytes (DefaultLimit when
// limit <= 0) and returns it.
func Install(thread *starlark.Thread, limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultLimit
	}
	b := &Budget{limit: limit}
	thread.SetLocal(localKey, b)
	return b
}

// Of returns the budget of thread, installing one of DefaultLimit if it
// has none (a thread made outside the loader, as for a module's load).
func Of(thread *starlark.Thread) *Budget {
	if b, ok := thread.Local(localKey).(*Budget); ok {
		return b
	}
	return Install(thread, DefaultLimit)
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes charged so far.
func (b *Budget) Used() int64 { return b.used }

// Charge counts n more bytes for the operation op ("str", "*"); it
// refuses, charging nothing, if that would exceed the limit.
func (b *Budget) Charge(op string, n int64) error {
	if n <= 0 {
		return nil
	}
	if n > b.limit-b.used {
		return &LimitError{Op: op, Size: n, Limit: b.limit}
	}
	b.used += n
	return nil
}

// remaining returns the bytes left.
func (b *Budget) remaining() int64 { return b.limit - b.used }

// LimitError reports an operation refused because it would exceed the
// thread's memory budget (Depth == 0) or nest deeper than MaxDepth.
type LimitError struct {
	// Op names the operation: "*", "str", "join", "list" ...
	Op string
	// Size is the estimated size of the refused result in bytes, or at
	// least the part of it counted before giving up.
	Size int64
	// Limit is the budget in bytes.
	Limit int64
	// Depth is MaxDepth when the value was nested too deeply, else 0.
	Depth int
}

// Error implements error; it names the limit.
func (e *LimitError) Error() string {
	if e.Depth > 0 {
		return fmt.Sprintf("%s of a value nested deeper than %d levels, the limit for rendering a value", e.Op, e.Depth)
	}
	return fmt.Sprintf("result of %s would be %s or more, beyond the memory limit of %s per request", e.Op, bytesString(e.Size), bytesString(e.Limit))
}

// bytesString formats n bytes for messages: "64 MiB", "1.5 GiB", "512 B".
func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return trim(float64(n)/(1<<30)) + " GiB"
	case n >= 1<<20:
		return trim(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10:
		return trim(float64(n)/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

func trim(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s
}
