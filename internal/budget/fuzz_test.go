package budget_test

import (
	"errors"
	"testing"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/internal/budget"
)

// FuzzRewrite checks that Rewrite keeps the meaning of programs: a
// program that Starlark runs to the end (within a small step limit) must
// give the same globals when rewritten, or fail the same way.
func FuzzRewrite(f *testing.F) {
	for _, src := range []string{
		`r = "a" + "b" * 3 + "%s" % 1`,
		"a = b = []\na += [1]\na += a\nr = (a, b)",
		"d = {'k': [1]}\nd['k'] *= 2\nd['k'] += d['k']\nr = d",
		"s = 'x'\ns %= ()\nr = s",
		"def f(x=1+2):\n    x += 1\n    return x\nr = f()",
		"r = ','.join([str(x * 2) for x in range(3)]).split(',')",
		"r = {1: 2} | {3: 4}",
		"r = 'a'.replace('a', 'bb').upper() + '{}'.format(1)",
		"l = [1]\nl.extend(l)\nr = sorted(l) + list(reversed(l))",
	} {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		thread := &starlark.Thread{Name: "plain", Print: func(*starlark.Thread, string) {}}
		thread.SetMaxExecutionSteps(2000)
		want, werr := starlark.ExecFileOptions(opts, thread, "fuzz.star", src, nil)
		if werr != nil {
			return // only programs that run to the end are compared
		}
		thread2 := &starlark.Thread{Name: "checked", Print: func(*starlark.Thread, string) {}}
		thread2.SetMaxExecutionSteps(1 << 20)
		got, gerr := checked(thread2, src, budget.DefaultLimit)
		var le *budget.LimitError
		if errors.As(gerr, &le) {
			return // beyond the budget: refusing it is the point
		}
		if gerr != nil {
			t.Fatalf("%q: plain Starlark runs it, the rewritten program fails: %v", src, gerr)
		}
		if g, w := dump(got), dump(want); g != w {
			t.Fatalf("%q:\n got %s\nwant %s", src, g, w)
		}
	})
}
