package budget

import "go.starlark.net/starlark"

// A meter charges for the elements that an iterating built-in takes from
// its argument, and checks every pollEvery elements whether the thread
// was cancelled. An iterator cannot fail, so the first error stops the
// iteration early and is kept in err, which the caller returns instead
// of the built-in's (truncated) result.
type meter struct {
	thread *starlark.Thread
	b      *Budget
	op     string
	per    int64 // bytes charged per element
	n      int
	err    error
}

func newMeter(thread *starlark.Thread, op string, per int64) *meter {
	return &meter{thread: thread, b: Of(thread), op: op, per: per}
}

// wrap returns v with its iteration metered when v is an iterable that
// is not a string, bytes or mapping (whose iteration built-ins treat
// specially); other values are returned as they are.
func (m *meter) wrap(v starlark.Value) starlark.Value {
	switch v.(type) {
	case starlark.String, starlark.Bytes, starlark.IterableMapping:
		return v
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return v
	}
	return &metered{Iterable: it, m: m}
}

// next accounts for one more element and reports whether to go on.
func (m *meter) next() bool {
	if m.err != nil {
		return false
	}
	m.n++
	if m.n%pollEvery != 0 {
		return true
	}
	if err := m.b.Charge(m.op, m.per*pollEvery); err != nil {
		m.err = err
		return false
	}
	if err := poll(m.thread); err != nil {
		m.err = err
		return false
	}
	return true
}

// metered is an iterable whose iteration a meter accounts for. It is
// not a Sequence, so built-ins do not preallocate from its length.
type metered struct {
	starlark.Iterable
	m *meter
}

func (v *metered) Iterate() starlark.Iterator {
	return &meterIter{m: v.m, it: v.Iterable.Iterate()}
}

type meterIter struct {
	m  *meter
	it starlark.Iterator
}

func (it *meterIter) Next(p *starlark.Value) bool { return it.m.next() && it.it.Next(p) }
func (it *meterIter) Done()                       { it.it.Done() }
