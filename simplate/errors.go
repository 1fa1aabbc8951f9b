package simplate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// ErrNotSimplate is returned by [Loader.Load] for a file that is not a
// simplate: it is served as a static file.
var ErrNotSimplate = errors.New("simplate: not a simplate")

// Error is a compile, runtime or template error located in a file under
// the root. Its text is "file:line: message" with line numbers of the whole
// file, not of one page. A runtime error wraps the *starlark.EvalError (use
// errors.As to reach its Backtrace), which in turn wraps the error returned
// by a builtin, such as a response from abort().
type Error struct {
	File string // the file as named in messages, e.g. "www/foo.html.spt"
	Line int    // 1-based line in File; 0 when unknown
	Msg  string // the message, without position
	Err  error  // the underlying error, or nil
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// starlarkError converts an error from parsing, resolving or running
// Starlark into *Error values (joined when there are several), placed at
// the innermost Starlark frame that has a position. file names the code
// when no position is known.
func starlarkError(file string, err error) error {
	var (
		synErr  syntax.Error
		synPtr  *syntax.Error
		resErrs resolve.ErrorList
		evalErr *starlark.EvalError
	)
	switch {
	case errors.As(err, &evalErr):
		e := &Error{File: file, Msg: evalErr.Msg, Err: evalErr}
		for i := len(evalErr.CallStack) - 1; i >= 0; i-- {
			pos := evalErr.CallStack[i].Pos
			if pos.Line > 0 && pos.Filename() != "<builtin>" {
				e.File, e.Line = pos.Filename(), int(pos.Line)
				break
			}
		}
		return e
	case errors.As(err, &resErrs):
		errs := make([]error, len(resErrs))
		for i, re := range resErrs {
			errs[i] = &Error{File: re.Pos.Filename(), Line: int(re.Pos.Line), Msg: re.Msg, Err: re}
		}
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(errs...)
	case errors.As(err, &synErr):
		return &Error{File: synErr.Pos.Filename(), Line: int(synErr.Pos.Line), Msg: synErr.Msg, Err: synErr}
	case errors.As(err, &synPtr):
		return &Error{File: synPtr.Pos.Filename(), Line: int(synPtr.Pos.Line), Msg: synPtr.Msg, Err: synPtr}
	}
	return &Error{File: file, Msg: err.Error(), Err: err}
}

// fixSyntaxLine moves a syntax error that Starlark reports at the start
// of a line for the token that ended the line before ("got newline, want
// ':'" after "if x", "got end of file, want ']'") back to the last line
// with code before it, where the mistake is. src is the source the error
// is about, with the file's line numbers.
func fixSyntaxLine(err error, src string) error {
	var e *Error
	var se syntax.Error
	if sp := (*syntax.Error)(nil); errors.As(err, &sp) {
		se = *sp
	}
	if !errors.As(err, &e) || !(errors.As(e.Err, &se) || se.Msg != "") || se.Pos.Col != 1 ||
		!(strings.HasPrefix(se.Msg, "got newline") || strings.HasPrefix(se.Msg, "got end of file")) {
		return err
	}
	lines := strings.Split(src, "\n")
	for l := e.Line - 1; l >= 1 && l <= len(lines); l-- {
		if t := strings.TrimSpace(lines[l-1]); t != "" && !strings.HasPrefix(t, "#") {
			e.Line = l
			break
		}
	}
	return err
}

// templateError converts an error from text/template or html/template
// into an *Error. names maps the template names that may appear at the
// start of the message ("base.html") to their file as shown in messages
// ("www/.aspen/base.html"); file is used when none matches.
func templateError(file string, names map[string]string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	msg = strings.TrimPrefix(msg, "html/template:")
	msg = strings.TrimPrefix(msg, " ")
	for name, shown := range names {
		rest, ok := strings.CutPrefix(msg, name+":")
		if !ok {
			continue
		}
		// rest is "line: msg" or "line:col: msg".
		num, after, ok := strings.Cut(rest, ":")
		line, convErr := strconv.Atoi(num)
		if !ok || convErr != nil {
			return &Error{File: shown, Msg: strings.TrimPrefix(rest, " "), Err: err}
		}
		if col, after2, ok := strings.Cut(after, ":"); ok {
			if _, err := strconv.Atoi(col); err == nil {
				after = after2
			}
		}
		return &Error{File: shown, Line: line, Msg: strings.TrimPrefix(after, " "), Err: err}
	}
	return &Error{File: file, Msg: msg, Err: err}
}

// flatten splits joined errors into their parts.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
