package simplate

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync/atomic"
	texttemplate "text/template"
	tparse "text/template/parse"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/internal/budget"
)

// Simplate is a compiled simplate. It is immutable and may be run by many
// goroutines at once.
type Simplate struct {
	// Name is the file's name relative to the root, as given to Load.
	Name string
	// ContentType is the Content-Type of the served name (the name
	// without .spt): text/html; charset=utf-8 for foo.html.spt,
	// application/json for foo.json.spt and foo.json, text/plain;
	// charset=utf-8 for foo.spt, else by mime.TypeByExtension with
	// charset=utf-8 added to text/* types.
	ContentType string
	// JSON reports a JSON simplate: it has no template, Run returns no
	// body and the caller encodes response.body.
	JSON bool
	// Pages is the number of pages in the file.
	Pages int

	ctHeader []string          // []string{ContentType}, shared
	file     string            // Name as shown in messages
	prog     *starlark.Program // the per-request page; nil if none
	fixed    []binding         // predeclared values prog uses, other than Globals
	need     []string          // names of Options.Globals prog uses
	onceData map[string]any    // the once-page's globals, converted
	html     *htmltemplate.Template
	text     *texttemplate.Template
	tnames   map[string]string // template name → file, for errors
	needs    *needs            // what the template reads of its data
	sizeHint atomic.Int64      // size of the last body, to size the buffer
	uses     []Use             // predeclared names the Starlark pages use
}

// Use is a predeclared name (a builtin, request, response ...) that a
// simplate's Starlark refers to, with the line of its first use.
type Use struct {
	Name string
	Line int
}

// Uses returns the predeclared names the simplate's Starlark pages refer
// to, each once, with the line of its first use, in line order. aspengo
// check uses it to tell which builtins a page calls.
func (s *Simplate) Uses() []Use { return s.uses }

// ContentTypeHeader returns ContentType as a header value, shared by
// every response of s so that none allocates it: do not modify it.
func (s *Simplate) ContentTypeHeader() []string {
	return s.ctHeader
}

// binding is a predeclared name and its value.
type binding struct {
	name string
	v    starlark.Value
}

// compile reads and compiles the file name whose stat is st.
func (l *Loader) compile(name string, st stamp) *version {
	v := &version{st: st}
	k := kindOf(name)
	if !k.spt {
		if !k.text {
			v.err = ErrNotSimplate
			return v
		}
		f, err := l.fsys.Open(name)
		if err != nil {
			v.err = err
			return v
		}
		has, err := hasPageBreak(f)
		f.Close()
		if err != nil {
			v.err = err
			return v
		}
		if !has {
			v.err = ErrNotSimplate
			return v
		}
	}
	src, err := fs.ReadFile(l.fsys, name)
	if err != nil {
		v.err = err
		return v
	}
	s := &Simplate{Name: name, ContentType: k.contentType, JSON: k.json, file: l.shown(name)}
	s.ctHeader = []string{s.ContentType}
	lay, err := parse(s.file, k, src)
	if err != nil {
		v.err = err
		return v
	}
	s.Pages = lay.npages
	if k.html && lay.template != nil {
		v.tpl = l.templates()
		if v.tpl.err != nil {
			v.err = v.tpl.err
			return v
		}
	}
	if err := l.compilePages(s, lay, v); err != nil {
		v.err = err
		return v
	}
	v.s = s
	return v
}

// parse splits src, the content of a simplate shown as file, into its
// pages and assigns their roles.
func parse(file string, k kind, src []byte) (layout, error) {
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	return arrange(file, k, splitPages(text))
}

// padded returns the text of p preceded by newlines, so that its line
// numbers are those of the whole file.
func padded(p *page) string {
	return strings.Repeat("\n", p.line-1) + p.text
}

// paddedTemplate is padded for a template: the padding newlines are
// trimmed away by a comment action with a trim marker, so they are not
// output.
func paddedTemplate(p *page) string {
	if p.line <= 1 {
		return p.text
	}
	return strings.Repeat("\n", p.line-1) + "{{- /**/}}" + p.text
}

// compilePages runs the once-page and compiles the per-request page and
// the template of s. v records the modules the once-page loads.
func (l *Loader) compilePages(s *Simplate, lay layout, v *version) error {
	var once starlark.StringDict
	if lay.once != nil {
		src := padded(lay.once)
		f, prog, err := budget.SourceProgram(pageOptions, s.file, src, l.base.Has)
		if err != nil {
			return fixSyntaxLine(starlarkError(s.file, err), src)
		}
		s.addUses(f, func(string) bool { return true })
		thread := &starlark.Thread{Name: s.file, Print: l.print, Load: l.threadLoad}
		thread.SetMaxExecutionSteps(l.maxSteps)
		thread.SetLocal(loadKey, &loadCtx{deps: &v.deps})
		once, err = prog.Init(thread, l.base)
		if err != nil {
			return starlarkError(s.file, err)
		}
		once.Freeze()
		s.onceData = make(map[string]any, len(once))
		addTemplateData(s.onceData, once)
	}
	if lay.request != nil {
		isPredeclared := func(name string) bool {
			return l.globals[name] || once.Has(name) || l.base.Has(name)
		}
		src := padded(lay.request)
		f, prog, err := budget.SourceProgram(pageOptions, s.file, src, isPredeclared)
		if err != nil {
			return fixSyntaxLine(starlarkError(s.file, err), src)
		}
		s.prog = prog
		s.addUses(f, func(name string) bool { return !once.Has(name) })
		for _, name := range predeclaredUses(f) {
			switch {
			case l.globals[name]:
				s.need = append(s.need, name)
			case once.Has(name):
				s.fixed = append(s.fixed, binding{name, once[name]})
			default:
				s.fixed = append(s.fixed, binding{name, l.base[name]})
			}
		}
	}
	if lay.template == nil {
		return nil
	}
	text := paddedTemplate(lay.template)
	s.tnames = map[string]string{s.file: s.file}
	if v.tpl == nil {
		t, err := texttemplate.New(s.file).Parse(text)
		if err != nil {
			return templateError(s.file, s.tnames, err)
		}
		s.text = t
		trees := map[string]*tparse.Tree{}
		for _, x := range t.Templates() {
			trees[x.Name()] = x.Tree
		}
		s.needs = analyzeTemplate(trees, s.file)
		return nil
	}
	for name, file := range v.tpl.names {
		s.tnames[name] = file
	}
	c, err := v.tpl.base.Clone()
	if err != nil {
		return templateError(s.file, s.tnames, err)
	}
	t, err := c.New(s.file).Parse(text)
	if err != nil {
		return templateError(s.file, s.tnames, err)
	}
	// Before escaping, which adds escaper functions to every pipeline.
	trees := map[string]*tparse.Tree{}
	for _, x := range t.Templates() {
		trees[x.Name()] = x.Tree
	}
	s.needs = analyzeTemplate(trees, s.file)
	// html/template escapes a template when it is first executed; do it
	// now so that escaping errors are compile errors, not runtime ones.
	// Errors from executing with no data are expected and ignored.
	var escErr *htmltemplate.Error
	if err := t.Execute(io.Discard, map[string]any{}); errors.As(err, &escErr) {
		return templateError(s.file, s.tnames, err)
	}
	s.html = t
	return nil
}

// templateData returns the data of the template: the once-page's globals,
// vars and the per-request page's globals (later ones win), converted
// with ToGo and without callables; only the names and fields the template
// can read (see needs), unless the analysis could not tell.
func (s *Simplate) templateData(vars, globals starlark.StringDict) map[string]any {
	n := s.needs
	if n == nil || n.all {
		data := make(map[string]any, len(s.onceData)+len(vars)+len(globals))
		for k, v := range s.onceData {
			data[k] = v
		}
		addTemplateData(data, vars)
		addTemplateData(data, globals)
		return data
	}
	data := make(map[string]any, len(n.top))
	c := converter{left: maxValues}
	for name, f := range n.top {
		v := lookupData(name, globals, vars)
		if v == nil {
			if x, ok := s.onceData[name]; ok {
				data[name] = x
			}
			continue
		}
		if fv, ok := v.(TemplateFieldsValuer); ok && !f.whole {
			data[name] = fv.TemplateFields(f.fields)
			continue
		}
		data[name] = c.toGo(v, 0)
	}
	return data
}

// lookupData returns the value of name in the first of dicts that has it
// as a value that is not callable, or nil.
func lookupData(name string, dicts ...starlark.StringDict) starlark.Value {
	for _, d := range dicts {
		if v, ok := d[name]; ok {
			if _, callable := v.(starlark.Callable); !callable {
				return v
			}
		}
	}
	return nil
}

// predeclaredUses returns the predeclared names that the resolved file f
// refers to, sorted.
func predeclaredUses(f *syntax.File) []string {
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok {
			if b, ok := id.Binding.(*resolve.Binding); ok && b.Scope == resolve.Predeclared {
				seen[id.Name] = true
			}
		}
		return true
	})
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// addUses adds the predeclared names of the resolved file f for which
// keep is true to s.uses.
func (s *Simplate) addUses(f *syntax.File, keep func(string) bool) {
	seen := map[string]bool{}
	for _, u := range s.uses {
		seen[u.Name] = true
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok && !seen[id.Name] {
			if b, ok := id.Binding.(*resolve.Binding); ok && b.Scope == resolve.Predeclared && keep(id.Name) {
				seen[id.Name] = true
				s.uses = append(s.uses, Use{Name: id.Name, Line: int(id.NamePos.Line)})
			}
		}
		return true
	})
	sort.SliceStable(s.uses, func(i, j int) bool { return s.uses[i].Line < s.uses[j].Line })
}

// Run executes the simplate for one request on thread: the per-request
// page runs with vars, the values of Options.Globals (request, response,
// website), besides the Builtins and the once-page's globals. Then the
// template, if any, is rendered with data made of the once-page's
// globals, vars and the per-request page's globals (later ones win),
// converted with ToGo and without callables, and Run returns the body.
// A JSON simplate returns a nil body: the caller reads response.body.
//
// Errors are *Error values located in the file ("www/foo.html.spt:7:
// ..."); a Starlark runtime error wraps the *starlark.EvalError.
func (s *Simplate) Run(thread *starlark.Thread, vars starlark.StringDict) ([]byte, error) {
	var globals starlark.StringDict
	if s.prog != nil {
		pre := make(starlark.StringDict, len(s.fixed)+len(s.need))
		for _, b := range s.fixed {
			pre[b.name] = b.v
		}
		for _, name := range s.need {
			v, ok := vars[name]
			if !ok || v == nil {
				return nil, fmt.Errorf("simplate: running %s: no value for %s", s.file, name)
			}
			pre[name] = v
		}
		var err error
		globals, err = s.prog.Init(thread, pre)
		if err != nil {
			return nil, starlarkError(s.file, err)
		}
	}
	if s.JSON {
		return nil, nil
	}
	data := s.templateData(vars, globals)
	var buf bytes.Buffer
	buf.Grow(int(s.sizeHint.Load()) + 512)
	var err error
	if s.html != nil {
		err = s.html.Execute(&buf, data)
	} else {
		err = s.text.Execute(&buf, data)
	}
	if err != nil {
		return nil, templateError(s.file, s.tnames, err)
	}
	s.sizeHint.Store(int64(buf.Len()))
	return buf.Bytes(), nil
}
