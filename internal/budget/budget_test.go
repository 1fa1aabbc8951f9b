package budget_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/internal/budget"
)

var opts = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// plain runs src as Starlark compiles it.
func plain(src string) (starlark.StringDict, error) {
	thread := &starlark.Thread{Name: "plain"}
	return starlark.ExecFileOptions(opts, thread, "test.star", src, nil)
}

// checked runs src rewritten, with the checked built-ins and a budget of
// limit bytes.
func checked(thread *starlark.Thread, src string, limit int64) (starlark.StringDict, error) {
	if thread == nil {
		thread = &starlark.Thread{Name: "checked"}
	}
	budget.Install(thread, limit)
	pre := budget.Builtins()
	_, prog, err := budget.SourceProgram(opts, "test.star", src, pre.Has)
	if err != nil {
		return nil, err
	}
	return prog.Init(thread, pre)
}

// TestRewritePreservesSemantics runs programs both ways: results and
// error messages must be the same.
func TestRewritePreservesSemantics(t *testing.T) {
	programs := []string{
		`r = "a" + "b" + str(1) + repr("x") + str(b"\xff")`,
		`r = [1, 2] + [3]; t = (1,) + (2, 3); n = 1 + 2.5 + 3`,
		`r = "ab" * 3 + "-" * 0; l = [0] * 3; k = 3 * [1]; t = 2 * (1, 2); i = 6 * 7; f = 1.5 * 2`,
		`r = "%s=%d %r" % ("a", 3, "q"); m = "%(x)s" % {"x": 1}; n = 7 % 3; o = "%s" % [1, [2]]`,
		`a = {"x": 1} | {"y": 2}; s = set([1]) | set([2])`,
		`a = b = []
a += [1]
a += (2, 3)
a += a
r = (a, b)`,
		`s = "x"
s += "y"
s *= 3
n = 1
n += 1
n *= 5
n %= 3
f = "%s-%s"
f %= ("a", "b")
r = (s, n, f)`,
		`d = {"k": 1, "l": [1]}
d["k"] += 2
d["k"] *= 3
d["l"] += [2]
l = [1, "a"]
l[0] *= 4
l[1] += "b"
l[-1] %= ()
r = (d, l)`,
		`def f(x, y=1+2, *args, **kw):
    x += y
    return x, args, kw
r = f(1), f(2, 3, 4, z=5), (lambda a=2*3: a * 2)()`,
		`r = [x + 1 for x in range(5) if x % 2 == 0] + [y * 2 for y in [1, 2]]`,
		`r = ",".join(["a", "b"]) + "x".join(("1", "2", "3")) + "-".join([])`,
		`r = "aaa".replace("a", "bb") + "aaa".replace("a", "c", 2) + "abc".replace("", "-")`,
		`r = "{} {x} {0}".format(1, x=2) + "{{}}".format()`,
		`r = ("a b  c".split(), "a,b,c".split(","), "a,b,c".rsplit(",", 1), "a\nb\r\nc".splitlines(), "a,b".split(",", 0))`,
		`r = ("aBc".lower(), "aBc".upper(), "ab cd".title(), "ab".capitalize())`,
		`l = [1]
l.extend([2, 3])
l.extend(l)
l.extend(range(2))
d = {"a": 1}
d.update({"b": 2}, c=3)
d.update([("e", 5)])
s = set([1])
s.update([2])
r = (l, d, sorted(d.keys()), sorted(d.values()), sorted(d.items()), s.union([3]), s.difference([1]), s.intersection([1, 9]), s.symmetric_difference([2, 7]))`,
		`r = (list(range(5)), tuple("ab".elems()), sorted([3, 1, 2]), reversed([1, 2]), dict([(1, 2)]), set([1, 1]), enumerate("ab".elems()), zip([1, 2], "ab".elems()), bytes([65, 66]), min(range(5)), max(3, 4), any([0, 1]), all([]))`,
		`a = []
a.append(a)
r = str(a) + repr({"k": a})`,
		`f = "-".join
g = getattr("x", "upper")
h = getattr([], "append")
r = (f(["a", "b"]), g(), str(f), str(g), h, getattr(1, "real", 0), hasattr("", "join"))`,
		`d = {}
l = [0, 0]
(l[0], d["z"]) = (1, 2)
[l[1], d["y"]] = [3, 4]
for d["w"] in [5]:
    pass
r = (l, d)`,
		`r = getattr("", "nosuch")`,
		`f = (1).join`,
		`l = [0, 1, 2, 3, 4]
t = tuple(l)
i = 1
r = (l[:], l[1:], l[:-1], l[i:3], l[::2], l[::-1], l[-2:], t[1:3], "abcdef"[1:4], b"xyz"[1:], range(10)[2:5], l[len(l)-2:], l[100:], l[3:1])`,
		`r = [1] + 1`,
		`r = "a" * "b"`,
		`r = 1 + "a"`,
		`x = None
x += 1`,
		`l = []
l += 1`,
		`r = (1).join([])`,
		`r = "a".nosuch()`,
		`r = list(1)`,
		`r = "%d" % "x"`,
		`r = str()`,
		`fail("boom", 1)`,
		`r = "".join([1])`,
		`r = max([])`,
	}
	for _, src := range programs {
		want, werr := plain(src)
		got, gerr := checked(nil, src, budget.DefaultLimit)
		if (werr == nil) != (gerr == nil) || werr != nil && errText(werr) != errText(gerr) {
			t.Errorf("%s\nerror %v, want %v", src, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		if g, w := dump(got), dump(want); g != w {
			t.Errorf("%s\n got %s\nwant %s", src, g, w)
		}
	}
}

// errText is an error's message without the name of the built-in that
// reported it (the checked operators are built-ins where Starlark has
// none).
func errText(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		if c := ee.Unwrap(); c != nil {
			return c.Error()
		}
		return ee.Msg
	}
	return err.Error()
}

func dump(g starlark.StringDict) string {
	var b strings.Builder
	for _, k := range g.Keys() {
		b.WriteString(k + "=" + g[k].String() + "; ")
	}
	return b.String()
}

// TestLimits runs programs that would allocate far beyond the budget;
// each must fail with a *LimitError that names the limit, having
// allocated little.
func TestLimits(t *testing.T) {
	const limit = 16 << 20
	tests := []struct {
		name, src string
		depth     bool // a nesting limit, not a memory limit
	}{
		{"string repeat", `n = 1000000000
s = "a" * n`, false},
		{"string repeat, int first", `s = 1000000000 * "ab"`, false},
		{"list repeat", `l = [0] * 100000000`, false},
		{"tuple repeat", `t = (0, 1) * 100000000`, false},
		{"augmented repeat", `s = "abc"
s *= 1000000000`, false},
		{"augmented repeat of an element", `d = {"k": "abc"}
d["k"] *= 1000000000`, false},
		{"doubling concatenation", `s = "x"
for i in range(40):
    s = s + s`, false},
		{"doubling augmented", `s = "x"
for i in range(40):
    s += s`, false},
		{"list doubling", `l = [0]
for i in range(40):
    l += l`, false},
		{"extend doubling", `l = [0]
for i in range(40):
    l.extend(l)`, false},
		{"range into a list", `l = list(range(100000000))`, false},
		{"range into sorted", `l = sorted(range(100000000))`, false},
		{"range into a dict", `d = dict(enumerate(range(100000000)))`, false},
		{"zip of ranges", `z = zip(range(100000000), range(100000000))`, false},
		{"join amplifies", `big = "x" * 100000
s = "".join([big] * 1000)`, false},
		{"join as a value", `big = "x" * 100000
j = "".join
s = j([big] * 1000)`, false},
		{"join from getattr", `big = "x" * 100000
s = getattr("", "join")([big] * 1000)`, false},
		{"slices kept", `big = [0] * 100000
keep = []
for i in range(1000):
    keep.append(big[:])`, false},
		{"replace amplifies", `s = ("a" * 10000).replace("a", "b" * 10000)`, false},
		{"format repeats", `big = "x" * 100000
s = ("{0}" * 1000).format(big)`, false},
		{"percent repeats", `big = "x" * 100000
s = ("%s" * 1000) % ((big,) * 1000)`, false},
		{"percent names", `big = "x" * 100000
s = ("%(a)s" * 1000) % {"a": big}`, false},
		{"percent augmented", `big = "x" * 100000
s = "%s" * 1000
s %= (big,) * 1000`, false},
		{"split into many", `s = ("," * 10000000).split(",")`, false},
		{"str of shared structure", `a = ["x" * 1000]
for i in range(40):
    a = [a, a]
s = str(a)`, false},
		{"big int squaring", `x = 3
for i in range(40):
    x = x * x`, false},
		{"str of deep nesting", `x = []
for i in range(160000):
    x = [x]
s = str(x)`, true},
		{"repr of deep dict", `x = {}
for i in range(5000):
    x = {"k": x}
s = repr(x)`, true},
		{"percent of deep nesting", `x = []
for i in range(5000):
    x = [x]
s = "%s" % (x,)`, true},
		{"print of deep nesting", `x = []
for i in range(5000):
    x = [x]
print(x)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			thread := &starlark.Thread{Name: "limits", Print: func(*starlark.Thread, string) {}}
			_, err := checked(thread, tt.src, limit)
			runtime.ReadMemStats(&after)
			var le *budget.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *budget.LimitError", err)
			}
			msg := err.Error()
			if tt.depth {
				if le.Depth != budget.MaxDepth || !strings.Contains(msg, "nested deeper than 1000 levels") {
					t.Errorf("error %q, want one naming the nesting limit", msg)
				}
			} else if !strings.Contains(msg, "memory limit of 16 MiB per request") {
				t.Errorf("error %q, want one naming the memory limit", msg)
			}
			// Nothing near the refused size was allocated: at most a
			// few times the budget (the program's own data included).
			if got := after.TotalAlloc - before.TotalAlloc; got > 8*limit {
				t.Errorf("allocated %d MiB for a budget of %d MiB", got>>20, limit>>20)
			}
		})
	}
}

// TestWithinBudget checks that ordinary work stays within the default
// budget, and that the budget counts it.
func TestWithinBudget(t *testing.T) {
	thread := &starlark.Thread{Name: "ok"}
	g, err := checked(thread, `parts = []
for i in range(10000):
    parts.append("<li>%d: %s</li>" % (i, str(i) * 3))
html = "\n".join(parts)
n = len(html)`, budget.DefaultLimit)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := starlark.AsInt32(g["n"]); n < 100000 {
		t.Errorf("n = %v", g["n"])
	}
	b := budget.Of(thread)
	if b.Used() < int64(len(g["html"].(starlark.String))) || b.Used() > 16<<20 {
		t.Errorf("used %d bytes of the budget for a %d-byte page", b.Used(), len(g["html"].(starlark.String)))
	}
}

// TestCancelInsideBuiltin checks that a built-in iterating over a huge
// range stops when the thread is cancelled.
func TestCancelInsideBuiltin(t *testing.T) {
	for _, src := range []string{
		`r = max(range(1000000000000000))`,
		`r = any([x == -1 for x in []]) or all(range(1, 1000000000000000))`,
		`r = min(range(1000000000000000), key=lambda x: -x)`,
	} {
		thread := &starlark.Thread{Name: "cancel"}
		done := make(chan error, 1)
		go func() {
			_, err := checked(thread, src, 1<<62)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		thread.Cancel("test over")
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "cancelled") {
				t.Errorf("%s: error %v, want cancelled", src, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: not stopped a minute after cancellation", src)
		}
	}
}

// BenchmarkPage runs a page-like program as Starlark compiles it and as
// Rewrite does, to show what the checks cost.
func BenchmarkPage(b *testing.B) {
	const src = `rows = []
total = 0
for i in range(200):
    total += i
    name = "item " + str(i)
    rows.append("<tr><td>%s</td><td>%d</td></tr>" % (name, i * 2))
html = "\n".join(rows)
`
	pre := budget.Builtins()
	_, checkedProg, err := budget.SourceProgram(opts, "bench.star", src, pre.Has)
	if err != nil {
		b.Fatal(err)
	}
	_, plainProg, err := starlark.SourceProgramOptions(opts, "bench.star", src, func(string) bool { return false })
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := plainProg.Init(&starlark.Thread{}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			thread := &starlark.Thread{}
			budget.Install(thread, 0)
			if _, err := checkedProg.Init(thread, pre); err != nil {
				b.Fatal(err)
			}
		}
	})
}
