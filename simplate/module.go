package simplate

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/internal/budget"
)

// module is one loaded version of a Starlark module in .aspen.
type module struct {
	name    string // "helpers.star"
	st      stamp
	globals starlark.StringDict // frozen
	err     error
	deps    []dep // modules it loaded

	checked atomic.Uint64 // the checkpoint of the last check
}

// dep records the version of a module that some code loaded. When the
// load failed before reaching a version (a load cycle), m is nil and st
// is the stamp of the module's file: the failure stands until it changes.
type dep struct {
	name string
	m    *module
	st   stamp
}

// loadKey is the thread-local key of a *loadCtx.
const loadKey = "github.com/aspengo/aspengo/simplate.load"

// loadCtx is what the thread.Load of a once-page or module needs to know.
type loadCtx struct {
	stack  []string // modules being loaded, outermost first
	locked bool     // this goroutine holds modMu for writing
	deps   *[]dep   // where to record the modules loaded
}

// checkModuleName checks a name given to load(): a file name in .aspen
// ending in .star, with no directory part.
func checkModuleName(name string) error {
	stem, ok := strings.CutSuffix(name, ".star")
	switch {
	case !ok || stem == "":
		return fmt.Errorf("module name %q: want a file name ending in .star, such as \"helpers.star\"", name)
	case strings.ContainsAny(name, `/\`) || strings.Contains(name, ".."):
		return fmt.Errorf("module name %q: modules are files directly in %s; no directories, no \"..\"", name, aspenDir)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("module name %q: must not start with a dot", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("module name %q: contains a NUL byte", name)
	}
	return nil
}

// Module returns the globals of the module .aspen/<name>, such as
// "database.star". Modules are executed once, with the Builtins, and
// cached; a module is executed again when it, or a module it loads, has
// changed. Its globals are frozen. A missing file gives an error that
// matches fs.ErrNotExist.
func (l *Loader) Module(name string) (starlark.StringDict, error) {
	if err := checkModuleName(name); err != nil {
		return nil, err
	}
	m, err := l.module(name)
	if err != nil {
		return nil, err
	}
	return m.globals, m.err
}

// threadLoad is the thread.Load of every thread of l.
func (l *Loader) threadLoad(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	if err := checkModuleName(name); err != nil {
		return nil, err
	}
	ctx, _ := thread.Local(loadKey).(*loadCtx)
	var (
		m   *module
		err error
	)
	if ctx != nil && ctx.locked {
		m, err = l.moduleLocked(name, ctx.stack)
	} else {
		m, err = l.module(name)
	}
	if ctx != nil && ctx.deps != nil {
		d := dep{name: name, m: m}
		if m == nil {
			d.st = l.stat(aspenDir + "/" + name)
		}
		*ctx.deps = append(*ctx.deps, d)
	}
	if err != nil {
		return nil, err
	}
	return m.globals, m.err
}

// module returns the current version of the module name.
func (l *Loader) module(name string) (*module, error) {
	cp := l.checkpoint()
	l.modMu.RLock()
	m := l.mods[name]
	ok := m != nil && (checked(&m.checked, cp) || l.moduleFresh(m))
	l.modMu.RUnlock()
	if ok {
		m.checked.Store(cp)
		return m, nil
	}
	l.modMu.Lock()
	defer l.modMu.Unlock()
	m, err := l.moduleLocked(name, nil)
	if m != nil {
		m.checked.Store(cp)
	}
	return m, err
}

// moduleLocked returns the current version of the module name, loading
// it if needed. stack lists the modules whose loading led here. l.modMu
// is held for writing.
func (l *Loader) moduleLocked(name string, stack []string) (*module, error) {
	if slices.Contains(stack, name) {
		return nil, fmt.Errorf("load cycle: %s", strings.Join(append(slices.Clone(stack), name), " → "))
	}
	if m := l.mods[name]; m != nil && l.moduleFresh(m) {
		return m, nil
	}
	m := l.execModule(name, stack)
	l.mods[name] = m
	return m, nil
}

// moduleFresh reports whether m is current: its file and the modules it
// loaded are unchanged. l.modMu is held.
func (l *Loader) moduleFresh(m *module) bool {
	return l.stat(aspenDir+"/"+m.name) == m.st && l.depsFresh(m.deps)
}

// depsFresh reports whether the recorded module versions are current.
// l.modMu is held.
func (l *Loader) depsFresh(deps []dep) bool {
	for _, d := range deps {
		if d.m == nil {
			if l.stat(aspenDir+"/"+d.name) != d.st {
				return false
			}
			continue
		}
		if l.mods[d.name] != d.m || !l.moduleFresh(d.m) {
			return false
		}
	}
	return true
}

// execModule reads and executes the module name. l.modMu is held for
// writing; modules it loads are loaded under the same lock.
func (l *Loader) execModule(name string, stack []string) *module {
	file := aspenDir + "/" + name
	shown := l.shown(file)
	m := &module{name: name}
	fi, err := fs.Stat(l.fsys, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		m.err = fmt.Errorf("%s: %w", shown, err)
		return m
	}
	m.st = stampOf(fi)
	src, err := fs.ReadFile(l.fsys, file)
	if err != nil {
		m.err = err
		return m
	}
	thread := &starlark.Thread{Name: shown, Print: l.print, Load: l.threadLoad}
	thread.SetMaxExecutionSteps(l.maxSteps)
	thread.SetLocal(loadKey, &loadCtx{stack: append(slices.Clone(stack), name), locked: true, deps: &m.deps})
	_, prog, err := budget.SourceProgram(fileOptions, shown, src, l.base.Has)
	var globals starlark.StringDict
	if err == nil {
		globals, err = prog.Init(thread, l.base)
		globals.Freeze()
	}
	if err != nil {
		m.err = fixSyntaxLine(starlarkError(shown, err), string(src))
		return m
	}
	m.globals = globals
	return m
}
