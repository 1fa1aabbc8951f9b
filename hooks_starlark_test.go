package aspengo

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aspengo/aspengo/simplate"
	"go.starlark.net/starlark"
)

const hookModuleSrc = `
calls = []

def startup(website):
    website["db"] = "connected"

def inbound(request, extra=None):
    request["seen"] = True
    return request

def variadic(*args):
    args[0]["n"] = len(args)

def fails(request):
    request["before"] = 1
    return 1 // 0

def aborts(request):
    abort(403)

def needs_two(a, b):
    pass

def no_args():
    pass

def kwonly(a, *, b):
    pass

not_a_function = 42
`

var errHookForbidden = errors.New("forbidden")

// newHookWebsite returns a website whose only part is a loader of
// Starlark hook modules.
func newHookWebsite() *Website {
	abort := starlark.NewBuiltin("abort", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return nil, errHookForbidden
	})
	return &Website{loader: simplate.NewLoader(simplate.Options{
		FS: fstest.MapFS{
			".aspen/database.star": {Data: []byte(hookModuleSrc)},
			".aspen/broken.star":   {Data: []byte("x = 1\ny = (\n")},
			".aspen/my.db.star":    {Data: []byte("def hook(w):\n    pass\n")},
		},
		Builtins: starlark.StringDict{"abort": abort},
		RootName: "www",
	})}
}

func TestHookFunc(t *testing.T) {
	w := newHookWebsite()
	tests := []struct {
		module, function string
		wantErr          string // empty: resolves
	}{
		{"database", "startup", ""},
		{"database", "inbound", ""},
		{"database", "variadic", ""},
		{"my.db", "hook", `module name "my.db": a Starlark hook module is a file in .aspen whose name is an identifier`},
		{"nosuch", "startup", "no file .aspen/nosuch.star"},
		{"database", "shutdown", "no function shutdown in .aspen/database.star"},
		{"database", "not_a_function", "not_a_function in .aspen/database.star is a int, not a function"},
		{"database", "needs_two", "needs_two in .aspen/database.star (www/.aspen/database.star:21:1) needs parameter b besides the first; a hook is called with one argument"},
		{"database", "no_args", "no_args in .aspen/database.star (www/.aspen/database.star:24:1) takes no arguments; a hook is called with one"},
		{"database", "kwonly", "kwonly in .aspen/database.star (www/.aspen/database.star:27:1) needs keyword parameter b; a hook is called with one argument"},
		{"broken", "x", "www/.aspen/broken.star:2: got end of file, want primary expression"},
		{"../database", "startup", `module name "../database": a Starlark hook module is a file in .aspen whose name is an identifier`},
		{"sub/database", "startup", `module name "sub/database": a Starlark hook module is a file in .aspen whose name is an identifier`},
		{".hidden", "startup", `module name ".hidden": a Starlark hook module is a file in .aspen whose name is an identifier`},
		{"", "startup", `module name "": a Starlark hook module is a file in .aspen whose name is an identifier`},
		{"database", "", `"" is not a function name`},
		{"database", "start-up", `"start-up" is not a function name`},
	}
	for _, tt := range tests {
		fn, err := w.hookFunc(tt.module, tt.function)
		if tt.wantErr == "" {
			if err != nil || fn == nil {
				t.Errorf("Func(%q, %q) = %v, %v; want a function", tt.module, tt.function, fn, err)
			} else if fn.Name() != tt.function {
				t.Errorf("Func(%q, %q) returned %s", tt.module, tt.function, fn.Name())
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("Func(%q, %q) error:\n got %v\nwant %s", tt.module, tt.function, err, tt.wantErr)
		}
	}
}

func TestCallHook(t *testing.T) {
	w := newHookWebsite()
	call := func(module, function string) (*starlark.Dict, error) {
		t.Helper()
		fn, err := w.hookFunc(module, function)
		if err != nil {
			t.Fatal(err)
		}
		arg := starlark.NewDict(1)
		return arg, callHook(w.loader.NewThread("hook"), fn, arg)
	}
	get := func(d *starlark.Dict, key string) string {
		v, ok, _ := d.Get(starlark.String(key))
		if !ok {
			return "<missing>"
		}
		return v.String()
	}
	for _, tt := range []struct{ module, function, key, want string }{
		{"database", "startup", "db", `"connected"`},
		{"database", "inbound", "seen", "True"},
		{"database", "variadic", "n", "1"},
	} {
		arg, err := call(tt.module, tt.function)
		if err != nil {
			t.Errorf("%s:%s: %v", tt.module, tt.function, err)
			continue
		}
		if got := get(arg, tt.key); got != tt.want {
			t.Errorf("%s:%s set %s = %s; want %s", tt.module, tt.function, tt.key, got, tt.want)
		}
	}

	arg, err := call("database", "fails")
	var evalErr *starlark.EvalError
	if !errors.As(err, &evalErr) {
		t.Fatalf("fails: error %T %v; want a *starlark.EvalError", err, err)
	}
	if err.Error() != "floored division by zero" || !strings.Contains(evalErr.Backtrace(), "www/.aspen/database.star:16:14: in fails") {
		t.Errorf("fails: error %q, backtrace\n%s", err, evalErr.Backtrace())
	}
	if get(arg, "before") != "1" {
		t.Errorf("fails: the hook did not run up to its error")
	}

	_, err = call("database", "aborts")
	if !errors.Is(err, errHookForbidden) || !errors.As(err, &evalErr) {
		t.Errorf("aborts: error %v; want the builtin's error inside an EvalError", err)
	}
}
