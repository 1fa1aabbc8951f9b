package simplate

// Which template data a page's template can read, found once when the
// simplate is compiled, so that Run converts only that (and a request
// attribute that is costly to compute, such as a session, is computed only
// when the template can read it).
//
// The analysis walks the parse trees of the page's template and of every
// template it can call. It follows the data from the root (the map of
// names Run builds) through field chains: {{ .request.user.name }} reads
// the field user of request; {{ .title }} reads title. Wherever it cannot
// follow a value it asks for all of it, conservatively:
//   - a value passed to a function or method ({{ len .items }}, {{ .a | f }},
//     {{ eq .request.method "GET" }}) or stored in a variable
//     ({{ $r := .request }}) is read whole;
//   - range and with make the whole value of their pipeline the dot (so
//     {{ with .request }} reads all of request), and if reads its
//     pipeline's value whole;
//   - {{ template "x" . }} follows into x with the same dot; with another
//     dot ({{ template "x" .request }}) into x with that value as its dot;
//   - the whole root ({{ . }}, {{ $ }}, {{ index . "name" }}, a call to a
//     template that does not exist) means everything, as before the
//     analysis.

import (
	"slices"
	tparse "text/template/parse"
)

// needs is what a template reads of its data.
type needs struct {
	all bool                  // everything: the analysis cannot tell
	top map[string]*fieldNeed // by root name
}

// fieldNeed is what is read of one root name.
type fieldNeed struct {
	whole  bool
	fields []string // the fields read, when not whole; sorted
}

func (n *needs) readWhole(name string) {
	f := n.field(name)
	f.whole, f.fields = true, nil
}

func (n *needs) readField(name, field string) {
	f := n.field(name)
	if !f.whole && !slices.Contains(f.fields, field) {
		f.fields = append(f.fields, field)
		slices.Sort(f.fields)
	}
}

func (n *needs) field(name string) *fieldNeed {
	if n.top == nil {
		n.top = map[string]*fieldNeed{}
	}
	f := n.top[name]
	if f == nil {
		f = &fieldNeed{}
		n.top[name] = f
	}
	return f
}

// dot is what the analysis knows of a dot (or of $).
type dot struct {
	kind int    // dotRoot, dotName or dotOther
	name string // for dotName: the root name whose value it is
}

const (
	dotOther = iota // a value that was already read whole, or none
	dotRoot         // the root data
	dotName         // the value of one root name
)

// analyzer walks the trees of one template set.
type analyzer struct {
	trees map[string]*tparse.Tree
	n     *needs
	seen  map[string]bool // template name + dot already walked
}

// analyzeTemplate returns what the template named name reads of its data;
// trees holds every template it can call, by name.
func analyzeTemplate(trees map[string]*tparse.Tree, name string) *needs {
	a := &analyzer{trees: trees, n: &needs{}, seen: map[string]bool{}}
	a.template(name, dot{kind: dotRoot})
	return a.n
}

func (a *analyzer) template(name string, d dot) {
	if a.n.all {
		return
	}
	key := name + "\x00" + string(rune('0'+d.kind)) + d.name
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	t := a.trees[name]
	if t == nil || t.Root == nil {
		// Executing it fails, or it is defined some other way: read
		// everything rather than guess.
		if d.kind != dotOther {
			a.value(d)
		}
		return
	}
	a.list(t.Root, d, d)
}

// value reads the whole of what d is.
func (a *analyzer) value(d dot) {
	switch d.kind {
	case dotRoot:
		a.n.all = true
	case dotName:
		a.n.readWhole(d.name)
	}
}

func (a *analyzer) list(l *tparse.ListNode, d, dollar dot) {
	if l == nil {
		return
	}
	for _, node := range l.Nodes {
		a.node(node, d, dollar)
	}
}

func (a *analyzer) node(node tparse.Node, d, dollar dot) {
	switch n := node.(type) {
	case *tparse.ActionNode:
		a.pipe(n.Pipe, d, dollar)
	case *tparse.IfNode:
		a.pipe(n.Pipe, d, dollar)
		a.list(n.List, d, dollar)
		a.list(n.ElseList, d, dollar)
	case *tparse.RangeNode:
		a.pipe(n.Pipe, d, dollar)
		a.list(n.List, dot{}, dollar)
		a.list(n.ElseList, d, dollar)
	case *tparse.WithNode:
		a.pipe(n.Pipe, d, dollar)
		a.list(n.List, dot{}, dollar)
		a.list(n.ElseList, d, dollar)
	case *tparse.TemplateNode:
		a.templateCall(n, d, dollar)
	case *tparse.ListNode:
		a.list(n, d, dollar)
	case *tparse.TextNode, *tparse.CommentNode, *tparse.BreakNode, *tparse.ContinueNode:
	default:
		a.n.all = true // a node this analysis does not know
	}
}

// templateCall follows {{ template "name" pipe }}.
func (a *analyzer) templateCall(n *tparse.TemplateNode, d, dollar dot) {
	if n.Pipe == nil {
		a.template(n.Name, dot{})
		return
	}
	if nd, ok := a.simpleDot(n.Pipe, d, dollar); ok {
		a.template(n.Name, nd)
		return
	}
	a.pipe(n.Pipe, d, dollar)
	a.template(n.Name, dot{})
}

// simpleDot reports the dot that a pipeline made of one plain value
// gives a called template: . or $, or a root name (.request, $.request).
func (a *analyzer) simpleDot(p *tparse.PipeNode, d, dollar dot) (dot, bool) {
	if len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return dot{}, false
	}
	switch arg := p.Cmds[0].Args[0].(type) {
	case *tparse.DotNode:
		return d, true
	case *tparse.VariableNode:
		if arg.Ident[0] == "$" && len(arg.Ident) == 1 {
			return dollar, true
		}
		if arg.Ident[0] == "$" && len(arg.Ident) == 2 && dollar.kind == dotRoot {
			return dot{kind: dotName, name: arg.Ident[1]}, true
		}
	case *tparse.FieldNode:
		if len(arg.Ident) == 1 && d.kind == dotRoot {
			return dot{kind: dotName, name: arg.Ident[0]}, true
		}
	}
	return dot{}, false
}

// pipe reads what a pipeline reads. A value printed or tested is read
// whole (down to the field chain that names it); a value given to a
// function, a method or a variable is read whole too.
func (a *analyzer) pipe(p *tparse.PipeNode, d, dollar dot) {
	if p == nil {
		return
	}
	if slices.ContainsFunc(p.Decl, func(v *tparse.VariableNode) bool { return v.Ident[0] == "$" }) {
		a.n.all = true // $ reassigned: stop following it
	}
	for _, c := range p.Cmds {
		for _, arg := range c.Args {
			a.arg(arg, d, dollar)
		}
	}
}

// arg reads one argument: its value, whole.
func (a *analyzer) arg(arg tparse.Node, d, dollar dot) {
	switch n := arg.(type) {
	case *tparse.DotNode:
		a.value(d)
	case *tparse.FieldNode:
		a.chain(d, n.Ident)
	case *tparse.VariableNode:
		if n.Ident[0] == "$" {
			a.chain(dollar, n.Ident[1:])
		}
		// Other variables hold values read whole when they were set.
	case *tparse.ChainNode:
		a.arg(n.Node, d, dollar)
	case *tparse.PipeNode:
		a.pipe(n, d, dollar)
	case *tparse.IdentifierNode, *tparse.BoolNode, *tparse.NumberNode, *tparse.StringNode, *tparse.NilNode:
	default:
		a.n.all = true
	}
}

// chain reads the field chain idents from the value d.
func (a *analyzer) chain(d dot, idents []string) {
	switch d.kind {
	case dotRoot:
		switch len(idents) {
		case 0:
			a.n.all = true
		case 1:
			a.n.readWhole(idents[0])
		default:
			a.n.readField(idents[0], idents[1])
		}
	case dotName:
		if len(idents) == 0 {
			a.n.readWhole(d.name)
		} else {
			a.n.readField(d.name, idents[0])
		}
	}
}
