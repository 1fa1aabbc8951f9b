package sessiontest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// BenchmarkUserSessions measures [session.Manager.UserSessions] of a user
// with 3 sessions among 1 k and 100 k stored sessions (one in a hundred
// of them owned by other users, in their own indexes), as the
// sub-benchmarks "1k" and "100k". newStore returns an empty store that
// is a [session.UserIndex]. The cost should not grow with the number of
// stored sessions: listing reads the user's index and their sessions by
// id, never the whole store.
func BenchmarkUserSessions(b *testing.B, newStore func(b *testing.B) session.Store) {
	for _, size := range Sizes[:2] {
		b.Run(size.Name, func(b *testing.B) {
			s := newStore(b)
			ix, ok := s.(session.UserIndex)
			if !ok {
				b.Fatalf("%T is not a session.UserIndex", s)
			}
			ctx := context.Background()
			n := time.Now().Truncate(time.Millisecond)
			rec := session.Record{
				Data:            map[string]any{"cart": []any{"A1", "B2"}},
				Created:         n,
				IdleExpires:     n.Add(24 * time.Hour),
				AbsoluteExpires: n.Add(14 * 24 * time.Hour),
			}
			start := time.Now()
			if err := fill(ctx, s, size.N, rec); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < size.N; i += 100 {
				if err := ix.AddUserSession(ctx, fmt.Sprintf("user%d", i), SizedID(i), rec.AbsoluteExpires); err != nil {
					b.Fatal(err)
				}
			}
			m := &session.Manager{Store: s, Owner: func(data map[string]any) string {
				u, _ := data["user"].(string)
				return u
			}}
			for range 3 {
				r := httptest.NewRequest("GET", "http://example.test/", nil)
				sess, err := m.Load(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				if err := sess.Set("user", "alice"); err != nil {
					b.Fatal(err)
				}
				if err := m.Commit(ctx, http.Header{}, sess, 200); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("stored %d sessions in %v", size.N, time.Since(start).Round(time.Millisecond))
			b.ReportAllocs()
			for b.Loop() {
				list, err := m.UserSessions(ctx, "alice")
				if err != nil || len(list) != 3 {
					b.Fatalf("UserSessions = %d sessions, %v; want 3", len(list), err)
				}
			}
		})
	}
}
