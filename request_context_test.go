package aspengo

import (
	"context"
	"net/http/httptest"
	"testing"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

type probeKey struct{}

// TestThreadContext checks that a builtin reaches the context of the
// request it serves through simplate.Context on the request's thread, as
// the database package does.
func TestThreadContext(t *testing.T) {
	reg := NewRegistry()
	probe := starlark.NewBuiltin("probe", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		v, _ := simplate.Context(thread).Value(probeKey{}).(string)
		return starlark.String(v), nil
	})
	if err := reg.Builtin("probe", probe); err != nil {
		t.Fatal(err)
	}
	root := writeSite(t, map[string]string{"index.spt": "seen = probe()\n[---]\n{{ .seen }}"})
	w := newTestWebsite(t, root, func(c *Config) { c.Registry = reg; c.NoWatch = true })
	rec := httptest.NewRecorder()
	hr := httptest.NewRequest("GET", "/", nil)
	w.ServeHTTP(rec, hr.WithContext(context.WithValue(hr.Context(), probeKey{}, "the request's")))
	if got := rec.Body.String(); rec.Code != 200 || got != "the request's" {
		t.Errorf("GET / = %d %q, want 200 %q", rec.Code, got, "the request's")
	}
}
