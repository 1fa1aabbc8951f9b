// Package hooks holds the general-purpose hook machinery that is not
// trembling's: it finds and calls hooks written in Starlark, and it sets
// the default security headers of every response ([SetSecurityHeaders]).
//
// # Starlark hooks
//
// In hooks.conf a line such as
//
//	database:startup
//
// names the function startup in the module www/.aspen/database.star. [Func]
// resolves such a name once, when the website starts, into a
// starlark.Callable, with errors that say what is wrong: no file
// .aspen/database.star, the module's own error, no function startup in
// it, startup not a function, or a function that cannot be called with
// one argument. [Call] then calls it with the hook's one argument (the
// website, request or response of its phase).
//
// A module name is a single file name without its .star suffix: letters,
// digits, '_', '-' and '.', not starting with a dot and without "..";
// subdirectories of .aspen are not searched. The value a hook returns is
// ignored: hooks act by changing their argument (Aspen's hooks returned
// it, so `return request` is harmless).
//
// # Security headers
//
// The defaults in [SecurityHeaders] are not a hook listed in hooks.conf:
// a site should not have to opt in to them. The website applies them to
// every response once the outbound hooks have run, and keeps any of
// those headers that a page or hook set itself, so a page that must be
// framed sets its own Content-Security-Policy or X-Frame-Options.
package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"go.starlark.net/starlark"
)

// Modules loads Starlark modules from .aspen by file name ("database.star");
// *simplate.Loader implements it. A missing file must give an error that
// matches fs.ErrNotExist.
type Modules interface {
	Module(name string) (starlark.StringDict, error)
}

// Func returns the function function of the module www/.aspen/<module>.star,
// as hooks.conf names it with "module:function".
func Func(mods Modules, module, function string) (starlark.Callable, error) {
	if err := checkModule(module); err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	if !isIdent(function) {
		return nil, fmt.Errorf("%q is not a function name", function)
	}
	file := ".aspen/" + module + ".star"
	globals, err := mods.Module(module + ".star")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no file %s", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	v, ok := globals[function]
	if !ok {
		return nil, fmt.Errorf("no function %s in %s", function, file)
	}
	fn, ok := v.(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s in %s is a %s, not a function", function, file, v.Type())
	}
	if f, ok := fn.(*starlark.Function); ok {
		if err := checkArity(f); err != nil {
			return nil, fmt.Errorf("%s in %s (%s) %w", function, file, f.Position(), err)
		}
	}
	return fn, nil
}

// checkModule checks the module part of a hook name.
func checkModule(module string) error {
	switch {
	case module == "":
		return errors.New("empty module name")
	case strings.HasPrefix(module, "."), strings.Contains(module, ".."):
		return fmt.Errorf("module name %q: must not start with a dot or contain \"..\"", module)
	}
	for _, r := range module {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("module name %q: only letters, digits, '_', '-' and '.' are allowed (a file directly in .aspen)", module)
		}
	}
	return nil
}

// isIdent reports whether s is a Starlark identifier.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkArity reports an error unless f can be called with one positional
// argument.
func checkArity(f *starlark.Function) error {
	n := f.NumParams()
	varargs, kwargs := 0, 0
	if f.HasVarargs() {
		varargs = 1
	}
	if f.HasKwargs() {
		kwargs = 1
	}
	positional := n - f.NumKwonlyParams() - varargs - kwargs
	if positional == 0 && varargs == 0 {
		return errors.New("takes no arguments; a hook is called with one")
	}
	for i := 1; i < positional; i++ {
		if f.ParamDefault(i) == nil {
			p, _ := f.Param(i)
			return fmt.Errorf("needs parameter %s besides the first; a hook is called with one argument", p)
		}
	}
	for i := positional; i < positional+f.NumKwonlyParams(); i++ {
		if f.ParamDefault(i) == nil {
			p, _ := f.Param(i)
			return fmt.Errorf("needs keyword parameter %s; a hook is called with one argument", p)
		}
	}
	return nil
}

// Call calls fn with the single argument arg on thread and returns its
// error, if any, unchanged: a Starlark error is a *starlark.EvalError,
// whose Backtrace the caller may log, and errors.As reaches the error a
// builtin returned (such as a response from abort()). The return value
// of fn is ignored.
func Call(thread *starlark.Thread, fn starlark.Callable, arg starlark.Value) error {
	_, err := starlark.Call(thread, fn, starlark.Tuple{arg}, nil)
	return err
}
