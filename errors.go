package aspengo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/internal/budget"
	"github.com/aspengo/aspengo/simplate"
)

// errRequestTimeout is the cause of a request context that ran out of
// time.
var errRequestTimeout = errors.New("request timeout")

// StatusError is an error that knows the HTTP status it should answer
// with, such as a database that cannot be reached (503). The pipeline
// answers with that status instead of a 500.
type StatusError interface {
	error
	HTTPStatus() int
}

// recoverPanic is deferred by each stage that runs code of the site or of
// an extension (a hook, a resource): it turns a panic into *errp, an error
// that carries the Go stack, prefixed with where when it is not empty.
// http.ErrAbortHandler is passed on, so that net/http aborts the response
// as its handler asked.
func recoverPanic(errp *error, where string) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	*errp = panicError(v)
	if where != "" {
		*errp = fmt.Errorf("%s: %w", where, *errp)
	}
}

// finish turns the outcome of a stage into the response: a returned
// *Response is the answer; any other error is a 500.
func (w *Website) finish(req *Request, err error) {
	if err != nil && context.Cause(req.Context()) == errRequestTimeout && !errors.As(err, new(*Response)) {
		// Whatever failed after the deadline failed because of it.
		w.timedOut(req)
		err = nil
	}
	if err != nil {
		var resp *Response
		var status StatusError
		switch {
		case errors.As(err, &resp):
			if resp.Header == nil { // a hook's own &Response{Code: 403}
				resp.Header = http.Header{}
			}
			req.Response = resp
		case errors.As(err, &status) && status.HTTPStatus() >= 400:
			// A known failure such as an unreachable database: log it,
			// answer with its status, no traceback.
			w.log.Warn("request failed", "method", req.Method, "path", req.URL.Path, "status", status.HTTPStatus(), "err", err.Error())
			req.Response = &Response{Code: status.HTTPStatus(), Header: http.Header{}}
			if status.HTTPStatus() == http.StatusBadRequest {
				// The client's own malformed input: tell it what was
				// refused. (Other statuses, such as a 404 for an unknown
				// account, keep their reason in the log.)
				req.Response.message = status.Error()
			}
		default:
			w.internalError(req, err)
		}
	}
	resp := req.Response
	if resp.Code >= 400 && resp.Body == nil && resp.value == nil && resp.static == nil {
		w.errPages.render(req, "")
	}
}

// timedOut answers 503 to a request that ran out of time, and logs it
// once, however many of its stages fail afterwards.
func (w *Website) timedOut(req *Request) {
	if !req.timedOut {
		req.timedOut = true
		w.log.Warn("request timed out", "method", req.Method, "path", req.URL.Path, "limit", w.timeout.String())
	}
	req.Response = &Response{
		Code:    http.StatusServiceUnavailable,
		Header:  http.Header{},
		message: fmt.Sprintf("The request took longer than the limit of %s.", w.timeout),
	}
}

// internalError replaces the response with a 500 and logs err with its
// Starlark traceback.
func (w *Website) internalError(req *Request, err error) {
	tb := w.traceback(err)
	if req.Context().Err() != nil {
		// The client went away and the page was cancelled: not a fault
		// of the site, and nobody reads the answer.
		w.log.Info("request cancelled", "method", req.Method, "path", req.URL.Path, "err", err.Error())
	} else {
		w.log.Error("internal server error", "method", req.Method, "path", req.URL.Path, "err", err.Error(), "traceback", tb)
	}
	resp := &Response{Code: http.StatusInternalServerError, Header: http.Header{}}
	var limit *budget.LimitError
	if errors.As(err, &limit) {
		resp.message = limit.Error() // names the limit, and nothing of the page
	}
	req.Response = resp
	if w.showTB {
		w.errPages.render(req, tb)
	} else {
		w.errPages.render(req, "")
	}
}

// panicError turns a recovered panic into an error carrying the stack.
func panicError(v any) error {
	return &tracedError{msg: fmt.Sprintf("panic: %v", v), trace: string(debug.Stack())}
}

// tracedError is an error with a Go stack trace, from a recovered panic.
type tracedError struct{ msg, trace string }

func (e *tracedError) Error() string { return e.msg }

// traceback returns the Starlark backtrace of err, with the source lines
// around each frame in the site, or the Go stack of a panic, or, for an
// error located in a file of the site (a template error), the error and
// the lines around it. The text has several lines.
func (w *Website) traceback(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		var b strings.Builder
		b.WriteString("Traceback (most recent call last):\n")
		for _, fr := range ee.CallStack {
			fmt.Fprintf(&b, "  %s: in %s\n", fr.Pos, fr.Name)
			w.writeSource(&b, fr.Pos.Filename(), int(fr.Pos.Line))
		}
		fmt.Fprintf(&b, "Error: %s", ee.Msg)
		return b.String()
	}
	var te *tracedError
	if errors.As(err, &te) {
		return te.msg + "\n" + te.trace
	}
	var se *simplate.Error
	if errors.As(err, &se) && se.Line > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", err)
		w.writeSource(&b, se.File, se.Line)
		return strings.TrimSuffix(b.String(), "\n")
	}
	return err.Error()
}

// sourceContext is how many lines before and after a frame's line a
// traceback shows.
const sourceContext = 2

// writeSource writes the lines around line of file, marking line, when
// file is a file of the site (as messages name it, "www/page.html.spt");
// otherwise nothing.
func (w *Website) writeSource(b *strings.Builder, file string, line int) {
	if line <= 0 || file == "" || strings.HasPrefix(file, "<") {
		return
	}
	abs, err := filepath.Abs(filepath.FromSlash(file))
	if err != nil {
		return
	}
	rel, err := filepath.Rel(w.root, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return
	}
	src, err := fs.ReadFile(w.fsys, filepath.ToSlash(rel))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	for n := max(1, line-sourceContext); n <= min(len(lines), line+sourceContext); n++ {
		mark := " "
		if n == line {
			mark = ">"
		}
		fmt.Fprintf(b, "    %s %4d | %s\n", mark, n, strings.TrimRight(lines[n-1], "\r"))
	}
}
