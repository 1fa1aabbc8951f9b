package budget

import (
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// SourceProgram parses src as file with opts, rewrites it with Rewrite
// and compiles it, as starlark.SourceProgramOptions does. isPredeclared
// must accept the names of Builtins (the predeclared values given to the
// program's Init must hold them), which it need not list itself: they are
// added here.
func SourceProgram(opts *syntax.FileOptions, file string, src any, isPredeclared func(string) bool) (*syntax.File, *starlark.Program, error) {
	f, err := opts.Parse(file, src, 0)
	if err != nil {
		return nil, nil, err
	}
	Rewrite(f)
	prog, err := starlark.FileProgram(f, isPredeclared)
	return f, prog, err
}

// Rewrite changes f, a parsed file not yet resolved, so that what may
// amplify goes through the checked functions of Builtins:
//
//	x + y, x * y, x % y, x | y   →  $+(x, y) ...
//	x += y, x *= y, x %= y        →  x += $+=(y) ...   (x still evaluated once)
//	x.join(a), x.replace(a, b)…   →  $.join(x, a) ...
//
// x + 1 and x += 1 with a number literal are left alone: they cannot
// amplify. Built-in functions (str, list ...) need no rewriting: Builtins
// shadows them.
func Rewrite(f *syntax.File) {
	r := rewriter{}
	r.stmts(f.Stmts)
}

type rewriter struct{}

func (r rewriter) stmts(stmts []syntax.Stmt) {
	for _, s := range stmts {
		r.stmt(s)
	}
}

func (r rewriter) stmt(s syntax.Stmt) {
	switch s := s.(type) {
	case *syntax.AssignStmt:
		s.LHS = r.target(s.LHS)
		s.RHS = r.expr(s.RHS)
		if op, ok := augOp(s.Op); ok && !(op == syntax.PLUS && isNumber(s.RHS)) {
			s.RHS = call(augName(op), s.OpPos, s.RHS)
		}
	case *syntax.DefStmt:
		r.params(s.Params)
		r.stmts(s.Body)
	case *syntax.ExprStmt:
		s.X = r.expr(s.X)
	case *syntax.ForStmt:
		s.Vars = r.target(s.Vars)
		s.X = r.expr(s.X)
		r.stmts(s.Body)
	case *syntax.WhileStmt:
		s.Cond = r.expr(s.Cond)
		r.stmts(s.Body)
	case *syntax.IfStmt:
		s.Cond = r.expr(s.Cond)
		r.stmts(s.True)
		r.stmts(s.False)
	case *syntax.ReturnStmt:
		if s.Result != nil {
			s.Result = r.expr(s.Result)
		}
	}
}

// params rewrites the default values of parameters.
func (r rewriter) params(params []syntax.Expr) {
	for _, p := range params {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			b.Y = r.expr(b.Y)
		}
	}
}

func (r rewriter) exprs(es []syntax.Expr) {
	for i, e := range es {
		es[i] = r.expr(e)
	}
}

func (r rewriter) expr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *syntax.BinaryExpr:
		if e.Op == syntax.EQ { // name=value in a call
			e.Y = r.expr(e.Y)
			return e
		}
		e.X, e.Y = r.expr(e.X), r.expr(e.Y)
		if isRewrittenOp(e.Op) && !(e.Op == syntax.PLUS && (isNumber(e.X) || isNumber(e.Y))) {
			return call(opName(e.Op), e.OpPos, e.X, e.Y)
		}
		return e
	case *syntax.CallExpr:
		r.exprs(e.Args)
		if dot, ok := e.Fn.(*syntax.DotExpr); ok && rewrittenMethods[dot.Name.Name] {
			recv := r.expr(dot.X)
			c := call(methodName(dot.Name.Name), e.Lparen, append([]syntax.Expr{recv}, e.Args...)...)
			c.Rparen = e.Rparen
			return c
		}
		e.Fn = r.expr(e.Fn)
		return e
	case *syntax.Comprehension:
		e.Body = r.expr(e.Body)
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				c.Vars = r.target(c.Vars)
				c.X = r.expr(c.X)
			case *syntax.IfClause:
				c.Cond = r.expr(c.Cond)
			}
		}
	case *syntax.CondExpr:
		e.Cond, e.True, e.False = r.expr(e.Cond), r.expr(e.True), r.expr(e.False)
	case *syntax.DictEntry:
		e.Key, e.Value = r.expr(e.Key), r.expr(e.Value)
	case *syntax.DictExpr:
		r.exprs(e.List)
	case *syntax.DotExpr:
		e.X = r.expr(e.X)
		if rewrittenMethods[e.Name.Name] {
			// f = s.join: the method as a value, checked when called.
			name := &syntax.Literal{Token: syntax.STRING, TokenPos: e.NamePos, Raw: `"` + e.Name.Name + `"`, Value: e.Name.Name}
			return call(bindName, e.Dot, e.X, name)
		}
	case *syntax.IndexExpr:
		e.X, e.Y = r.expr(e.X), r.expr(e.Y)
	case *syntax.LambdaExpr:
		r.params(e.Params)
		e.Body = r.expr(e.Body)
	case *syntax.ListExpr:
		r.exprs(e.List)
	case *syntax.ParenExpr:
		e.X = r.expr(e.X)
	case *syntax.SliceExpr:
		e.X, e.Lo, e.Hi, e.Step = r.expr(e.X), r.expr(e.Lo), r.expr(e.Hi), r.expr(e.Step)
		if simple(e.Lo) && simple(e.Hi) && simple(e.Step) {
			// x[lo:hi] copies a list or tuple: x becomes $slice(x, lo,
			// hi, step), which charges the copy and returns x. The
			// bounds are evaluated twice, so only names and literals.
			e.X = call(sliceName, e.Lbrack, e.X, orNone(e.Lo, e.Lbrack), orNone(e.Hi, e.Lbrack), orNone(e.Step, e.Lbrack))
		}
	case *syntax.TupleExpr:
		r.exprs(e.List)
	case *syntax.UnaryExpr:
		e.X = r.expr(e.X)
	}
	return e
}

// target rewrites the expressions inside an assignment target (the
// index in a[i + 1] = v) but not the target itself.
func (r rewriter) target(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.DotExpr:
		e.X = r.expr(e.X)
	case *syntax.IndexExpr:
		e.X, e.Y = r.expr(e.X), r.expr(e.Y)
	case *syntax.ParenExpr:
		e.X = r.target(e.X)
	case *syntax.TupleExpr:
		for i, x := range e.List {
			e.List[i] = r.target(x)
		}
	case *syntax.ListExpr:
		for i, x := range e.List {
			e.List[i] = r.target(x)
		}
	}
	return e
}

// simple reports whether evaluating e twice is harmless: it is absent, a
// name, a literal, or a negated literal.
func simple(e syntax.Expr) bool {
	switch e := e.(type) {
	case nil, *syntax.Ident, *syntax.Literal:
		return true
	case *syntax.UnaryExpr:
		_, ok := e.X.(*syntax.Literal)
		return ok && e.Op == syntax.MINUS
	}
	return false
}

// orNone returns e, or None when e is absent.
func orNone(e syntax.Expr, pos syntax.Position) syntax.Expr {
	if e == nil {
		return &syntax.Ident{NamePos: pos, Name: "None"}
	}
	// A copy: the resolver binds each Ident node once.
	switch e := e.(type) {
	case *syntax.Ident:
		c := *e
		return &c
	case *syntax.Literal:
		c := *e
		return &c
	case *syntax.UnaryExpr:
		c := *e
		x := *e.X.(*syntax.Literal)
		c.X = &x
		return &c
	}
	return e
}

// call makes the call name(args...) at pos, where name is predeclared.
func call(name string, pos syntax.Position, args ...syntax.Expr) *syntax.CallExpr {
	return &syntax.CallExpr{
		Fn:     &syntax.Ident{NamePos: pos, Name: name},
		Lparen: pos,
		Args:   args,
		Rparen: pos,
	}
}

func isRewrittenOp(op syntax.Token) bool {
	for _, o := range rewrittenOps {
		if o == op {
			return true
		}
	}
	return false
}

// augOp returns the binary operator of a rewritten augmented assignment.
func augOp(t syntax.Token) (syntax.Token, bool) {
	switch t {
	case syntax.PLUS_EQ:
		return syntax.PLUS, true
	case syntax.STAR_EQ:
		return syntax.STAR, true
	case syntax.PERCENT_EQ:
		return syntax.PERCENT, true
	}
	return 0, false
}

// isNumber reports whether e is an int or float literal.
func isNumber(e syntax.Expr) bool {
	lit, ok := e.(*syntax.Literal)
	return ok && (lit.Token == syntax.INT || lit.Token == syntax.FLOAT)
}
