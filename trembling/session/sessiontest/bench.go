package sessiontest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aspengo/aspengo/trembling/session"
)

// BenchmarkManager measures m (with its Store or Codec) on a session
// holding a user id, a password fingerprint, a three-item cart and a
// message:
//
//   - Load: loading the existing session from a request's cookie;
//   - CommitChanged: committing after a change, which writes the store
//     (or seals a new cookie);
//   - CommitUnchanged: committing a session that did not change.
func BenchmarkManager(b *testing.B, m *session.Manager) {
	ctx := context.Background()
	r := httptest.NewRequest("GET", "/", nil)
	s, err := m.Load(ctx, r)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range map[string]any{
		"user_id":   "64b7f0c2a1e4d3b2c1a09f8e",
		"pw_finger": "1f3870be274f6c49b3e31a0c6728957f",
		"cart": []any{
			map[string]any{"sku": "A1", "qty": int64(1), "price": 9.5},
			map[string]any{"sku": "B2", "qty": int64(2), "price": 19.0},
			map[string]any{"sku": "C3", "qty": int64(1), "price": 4.25},
		},
		"messages": []any{map[string]any{"text": "Saved.", "level": "success"}},
		"n":        int64(0),
	} {
		if err := s.Set(k, v); err != nil {
			b.Fatal(err)
		}
	}
	h := http.Header{}
	if err := m.Commit(ctx, h, s, 200); err != nil {
		b.Fatal(err)
	}
	c, err := http.ParseSetCookie(h.Get("Set-Cookie"))
	if err != nil {
		b.Fatal(err)
	}
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})

	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := m.Load(ctx, r)
			if err != nil || s.IsNew() {
				b.Fatalf("Load = new %v, %v", s != nil && s.IsNew(), err)
			}
		}
	})
	b.Run("CommitChanged", func(b *testing.B) {
		s, err := m.Load(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			n++
			s.Set("n", n)
			clear(h)
			if err := m.Commit(ctx, h, s, 200); err != nil {
				b.Fatal(err)
			}
		}
		if h.Get("Set-Cookie") == "" {
			b.Fatal("a changed session set no cookie")
		}
	})
	b.Run("CommitUnchanged", func(b *testing.B) {
		s, err := m.Load(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			clear(h)
			if err := m.Commit(ctx, h, s, 200); err != nil {
				b.Fatal(err)
			}
		}
	})
}
