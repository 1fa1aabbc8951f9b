package aspengo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/sitetest"
)

type storeKey struct{}

// TestWebsiteValue sets per-website state at startup, reads it from a
// request's hook, and checks that it is read-only afterwards.
func TestWebsiteValue(t *testing.T) {
	reg := aspengo.NewRegistry()
	reg.OnStart(func(ctx context.Context, w *aspengo.Website) error {
		if got := w.Value(storeKey{}); got != nil {
			t.Errorf("Value before SetValue = %v, want nil", got)
		}
		return w.SetValue(storeKey{}, "the store")
	})
	if err := reg.Hook("ext:inbound", aspengo.Hook{Inbound: func(r *aspengo.Request) error {
		v, _ := r.Website.Value(storeKey{}).(string)
		r.Response.Header.Set("X-Store", v)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	root := aspengo.WriteSite(t, map[string]string{
		".aspen/hooks.conf": "\f\next:inbound\n",
		"index.html":        "hi",
	})
	w := sitetest.Start(t, aspengo.Config{Root: root, Registry: reg, NoWatch: true})

	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Get("X-Store"); got != "the store" {
		t.Errorf("X-Store = %q, want the value set at startup", got)
	}
	if err := w.SetValue(storeKey{}, "another"); err == nil {
		t.Error("SetValue after Start succeeded; want an error")
	}
	if got := w.Value(storeKey{}); got != "the store" {
		t.Errorf("Value after a refused SetValue = %v", got)
	}
}
