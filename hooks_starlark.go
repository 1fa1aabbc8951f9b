package aspengo

import (
	"errors"
	"fmt"
	"io/fs"

	"go.starlark.net/starlark"
)

// This file finds and calls hooks written in Starlark. In hooks.conf a
// line such as
//
//	database:startup
//
// names the function startup in the module www/.aspen/database.star. The
// module is an identifier, as splitHookName requires (a dotted module
// names a built-in hook), so it is a single file directly in .aspen. The
// value a hook returns is ignored: hooks act by changing their argument
// (Aspen's hooks returned it, so `return request` is harmless).

// hookFunc returns the function function of the module
// www/.aspen/<module>.star, with an error that says what is wrong: no
// such file, the module's own error, no such function, not a function, or
// a function that cannot be called with one argument. It makes the
// website the hookModules of its hooks.conf.
func (w *Website) hookFunc(module, function string) (starlark.Callable, error) {
	if !isIdentifier(module) {
		return nil, fmt.Errorf("module name %q: a Starlark hook module is a file in .aspen whose name is an identifier", module)
	}
	if !isIdentifier(function) {
		return nil, fmt.Errorf("%q is not a function name", function)
	}
	file := ".aspen/" + module + ".star"
	globals, err := w.loader.Module(module + ".star")
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

// callHook calls fn with the single argument arg on thread and returns its
// error, if any, unchanged: a Starlark error is a *starlark.EvalError,
// whose Backtrace the caller may log, and errors.As reaches the error a
// builtin returned (such as a response from abort()). The return value
// of fn is ignored.
func callHook(thread *starlark.Thread, fn starlark.Callable, arg starlark.Value) error {
	_, err := starlark.Call(thread, fn, starlark.Tuple{arg}, nil)
	return err
}
