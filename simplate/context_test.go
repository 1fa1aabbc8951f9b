package simplate_test

import (
	"context"
	"testing"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

type ctxKey struct{}

func TestContext(t *testing.T) {
	if got := simplate.Context(nil); got != context.Background() {
		t.Errorf("Context(nil) = %v, want context.Background()", got)
	}
	thread := &starlark.Thread{}
	if got := simplate.Context(thread); got != context.Background() {
		t.Errorf("Context(new thread) = %v, want context.Background()", got)
	}
	ctx := context.WithValue(t.Context(), ctxKey{}, "request")
	simplate.SetContext(thread, ctx)
	if got := simplate.Context(thread); got != ctx {
		t.Errorf("Context after SetContext = %v, want %v", got, ctx)
	}
}
