package simplate

import (
	"context"

	"go.starlark.net/starlark"
)

// contextKey is the thread-local key of the context a thread's work runs
// under.
const contextKey = "simplate.context"

// SetContext records ctx as the context that the work of thread runs
// under, for builtins that do I/O: the website sets it on the thread of a
// request, with the request's context, when it makes the thread.
func SetContext(thread *starlark.Thread, ctx context.Context) {
	thread.SetLocal(contextKey, ctx)
}

// Context returns the context set on thread with SetContext, or
// context.Background when there is none (a thread that serves no request,
// such as that of a startup hook, or a nil thread).
func Context(thread *starlark.Thread) context.Context {
	if thread != nil {
		if ctx, ok := thread.Local(contextKey).(context.Context); ok && ctx != nil {
			return ctx
		}
	}
	return context.Background()
}
