package budget

import (
	"fmt"
	"math"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// binarySize returns an upper estimate of the bytes that x op y
// allocates, computed without allocating. Operations that allocate little
// (numbers of machine size, comparisons) or that Starlark refuses give 0.
func binarySize(thread *starlark.Thread, b *Budget, op syntax.Token, x, y starlark.Value) (int64, error) {
	switch op {
	case syntax.PLUS:
		switch x := x.(type) {
		case starlark.String:
			if y, ok := y.(starlark.String); ok {
				return int64(len(x)) + int64(len(y)), nil
			}
		case starlark.Bytes:
			if y, ok := y.(starlark.Bytes); ok {
				return int64(len(x)) + int64(len(y)), nil
			}
		case *starlark.List:
			if y, ok := y.(*starlark.List); ok {
				return wordSize * (int64(x.Len()) + int64(y.Len())), nil
			}
		case starlark.Tuple:
			if y, ok := y.(starlark.Tuple); ok {
				return wordSize * (int64(len(x)) + int64(len(y))), nil
			}
		case starlark.Int:
			if y, ok := y.(starlark.Int); ok {
				return intSize(x) + intSize(y), nil
			}
		}
	case syntax.STAR:
		if x, ok := x.(starlark.Int); ok {
			if y, ok := y.(starlark.Int); ok {
				return intMulCost(x, y), nil
			}
		}
		if n, ok := y.(starlark.Int); ok {
			return repeatSize(x, n), nil
		}
		if n, ok := x.(starlark.Int); ok {
			return repeatSize(y, n), nil
		}
	case syntax.PERCENT:
		if f, ok := x.(starlark.String); ok {
			return formatSize(thread, b, "%", string(f), y)
		}
	case syntax.PIPE:
		switch x := x.(type) {
		case *starlark.Dict:
			if y, ok := y.(*starlark.Dict); ok {
				return entrySize * (int64(x.Len()) + int64(y.Len())), nil
			}
		case *starlark.Set:
			if y, ok := y.(*starlark.Set); ok {
				return entrySize * (int64(x.Len()) + int64(y.Len())), nil
			}
		}
	}
	return 0, nil
}

// intSize is the size of an int's digits.
func intSize(x starlark.Int) int64 {
	if _, ok := x.Int64(); ok {
		return 0
	}
	return int64(x.BigInt().BitLen()/8 + 8)
}

// intMulCost charges a product of big ints by the work of computing it
// (words of x times words of y, as 8-byte units), not only by its size:
// squaring a big number again and again grows slowly in bytes but fast
// in time.
func intMulCost(x, y starlark.Int) int64 {
	if _, ok := x.Int64(); ok {
		if _, ok := y.Int64(); ok {
			return 0
		}
	}
	wx := int64(x.BigInt().BitLen()/64 + 1)
	wy := int64(y.BigInt().BitLen()/64 + 1)
	if wx > math.MaxInt64/8/wy {
		return math.MaxInt64
	}
	return 8*wx*wy + intSize(x) + intSize(y)
}

// repeatSize is the size of x * n for a sequence x; 0 for other types.
// It saturates instead of overflowing.
func repeatSize(x starlark.Value, n starlark.Int) int64 {
	var unit int64
	switch x := x.(type) {
	case starlark.String:
		unit = int64(len(x))
	case starlark.Bytes:
		unit = int64(len(x))
	case *starlark.List:
		unit = wordSize * int64(x.Len())
	case starlark.Tuple:
		unit = wordSize * int64(len(x))
	default:
		return 0
	}
	k, ok := n.Int64()
	if !ok {
		if n.Sign() < 0 {
			return 0
		}
		k = math.MaxInt64
	}
	if k <= 0 || unit == 0 {
		return 0
	}
	if unit > math.MaxInt64/k {
		return math.MaxInt64
	}
	return unit * k
}

// formatSize estimates the size of format % args (op "%") or
// format.format(*args, **kwargs): the format's own text plus, for each
// directive that can take a value, the largest value that it may take.
// A tuple's elements are each taken once by %; a mapping's values and
// format's arguments may be named any number of times.
func formatSize(thread *starlark.Thread, b *Budget, op, format string, args starlark.Value) (int64, error) {
	max := b.remaining()
	size := int64(len(format))
	if t, ok := args.(starlark.Tuple); ok && op == "%" {
		for _, v := range t {
			n, err := reprSize(thread, op, v, max-size)
			if err != nil {
				return 0, err
			}
			size += n + 2
		}
		return size, nil
	}
	directives := int64(strings.Count(format, "%"))
	if op != "%" {
		directives = int64(strings.Count(format, "{"))
	}
	var largest int64
	each := func(v starlark.Value) error {
		n, err := reprSize(thread, op, v, max)
		if n > largest {
			largest = n
		}
		return err
	}
	var err error
	switch a := args.(type) {
	case starlark.Tuple: // format's arguments: positional values, then keyword values
		for _, v := range a {
			if err = each(v); err != nil {
				break
			}
		}
	case *starlark.Dict:
		for _, v := range a.Entries() {
			if err = each(v); err != nil {
				break
			}
		}
	default:
		err = each(args)
	}
	if err != nil {
		return 0, err
	}
	if largest > 0 && directives > (max-size)/largest {
		return max + 1, nil
	}
	return size + directives*largest, nil
}

// binary computes x op y after charging its size.
func binary(thread *starlark.Thread, op syntax.Token, x, y starlark.Value) (starlark.Value, error) {
	b := Of(thread)
	n, err := binarySize(thread, b, op, x, y)
	if err != nil {
		return nil, err
	}
	if err := b.Charge(op.String(), n); err != nil {
		return nil, err
	}
	return starlark.Binary(op, x, y)
}

// opBuiltin returns the checked form of the binary operator op, which
// Rewrite calls for x op y.
func opBuiltin(op syntax.Token) *starlark.Builtin {
	return starlark.NewBuiltin(op.String(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) != 2 || len(kwargs) != 0 {
			return nil, fmt.Errorf("%s: internal error: %d operands", op, len(args))
		}
		return binary(thread, op, args[0], args[1])
	})
}

// augBuiltin returns the function that Rewrite wraps around the right
// operand y of x op= y. It returns an operand that Starlark's own
// augmented assignment combines with x (so x is evaluated once, and list
// += stays in place), and that charges the result first.
func augBuiltin(op syntax.Token) *starlark.Builtin {
	return starlark.NewBuiltin(op.String()+"=", func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) != 1 || len(kwargs) != 0 {
			return nil, fmt.Errorf("%s=: internal error: %d operands", op, len(args))
		}
		y := args[0]
		switch y.(type) {
		case starlark.Int, starlark.Float:
			if op == syntax.PLUS {
				// x += n: only a number can take a number, and the sum
				// is small.
				return y, nil
			}
		}
		if op == syntax.PERCENT {
			// x %= y: Starlark formats with y itself, so charge the
			// largest result y can give and pass y on.
			n, err := reprSize(thread, "%=", y, Of(thread).remaining())
			if err != nil {
				return nil, err
			}
			return y, Of(thread).Charge("%=", n)
		}
		o := operand{thread: thread, op: op, y: y}
		if it, ok := y.(starlark.Iterable); ok && op == syntax.PLUS {
			// list += y extends the list in place: charge the growth
			// now, while an error can still be returned.
			snap, err := snapshot(thread, "+=", it)
			if err != nil {
				return nil, err
			}
			return &iterOperand{operand: o, it: snap}, nil
		}
		return &o, nil
	})
}

// snapshot charges for the elements of it and returns them as a tuple
// (a list may be extended with itself while it is iterated).
func snapshot(thread *starlark.Thread, op string, it starlark.Iterable) (starlark.Tuple, error) {
	if n := starlark.Len(it); n >= 0 {
		if err := Of(thread).Charge(op, wordSize*int64(n)); err != nil {
			return nil, err
		}
		t := make(starlark.Tuple, 0, n)
		for x := range starlark.Elements(it) {
			t = append(t, x)
		}
		return t, nil
	}
	m := newMeter(thread, op, wordSize)
	var t starlark.Tuple
	iter := (&metered{Iterable: it, m: m}).Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		t = append(t, x)
	}
	return t, m.err
}

// operand is the right operand of an augmented assignment: x op= y calls
// its Binary with x, which charges and computes x op y.
type operand struct {
	thread *starlark.Thread
	op     syntax.Token
	y      starlark.Value
}

var (
	_ starlark.HasBinary = (*operand)(nil)
	_ starlark.Iterable  = (*iterOperand)(nil)
)

func (o *operand) String() string        { return o.y.String() }
func (o *operand) Type() string          { return o.y.Type() }
func (o *operand) Freeze()               { o.y.Freeze() }
func (o *operand) Truth() starlark.Bool  { return o.y.Truth() }
func (o *operand) Hash() (uint32, error) { return o.y.Hash() }

// Binary implements x op y for x on the left.
func (o *operand) Binary(op syntax.Token, x starlark.Value, side starlark.Side) (starlark.Value, error) {
	if side == starlark.Left {
		return binary(o.thread, op, o.y, x)
	}
	return binary(o.thread, op, x, o.y)
}

// iterOperand is an operand that is iterable, so that list += y extends
// the list in place as Starlark does; it charges the growth first.
type iterOperand struct {
	operand
	it starlark.Iterable
}

// Iterate is called by list += y only.
func (o *iterOperand) Iterate() starlark.Iterator { return o.it.Iterate() }
