package memstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func TestStore(t *testing.T) {
	sessiontest.TestStore(t, func(t *testing.T) session.Store { return memstore.New() })
}

// BenchmarkSized measures a session read and save among 1 k, 100 k and
// 1 M stored sessions (see sessiontest.BenchmarkSized).
func BenchmarkSized(b *testing.B) {
	sessiontest.BenchmarkSized(b, func(*testing.B) session.Store {
		s := memstore.New()
		s.MaxSessions, s.MaxBytes = 2_000_000, 4<<30 // hold the 1 M
		return s
	})
}

// TestBounds checks that the store drops the records written longest ago
// once it holds more than MaxSessions, or more than MaxBytes in all.
func TestBounds(t *testing.T) {
	ctx := t.Context()
	rec := func(data string) session.Record {
		now := time.Now()
		return session.Record{
			Data:            map[string]any{"d": data},
			Created:         now,
			IdleExpires:     now.Add(time.Hour),
			AbsoluteExpires: now.Add(time.Hour),
		}
	}
	ids := func(s *memstore.Store, names ...string) []string {
		var live []string
		for _, n := range names {
			if _, ok, err := s.Find(ctx, n); err != nil {
				t.Fatal(err)
			} else if ok {
				live = append(live, n)
			}
		}
		return live
	}
	tests := []struct {
		name  string
		count int
		bytes int64
		ops   func(s *memstore.Store)
		want  []string
	}{
		{"count: the oldest goes", 3, 1 << 20, func(s *memstore.Store) {
			for _, id := range []string{"a", "b", "c", "d"} {
				must(t, s.Create(ctx, id, rec("x")))
			}
		}, []string{"b", "c", "d"}},
		{"count: a write makes a record the newest", 3, 1 << 20, func(s *memstore.Store) {
			for _, id := range []string{"a", "b", "c"} {
				must(t, s.Create(ctx, id, rec("x")))
			}
			if _, ok, err := s.Update(ctx, "a", session.Change{Set: map[string]any{"k": int64(1)}}); err != nil || !ok {
				t.Fatalf("Update = %v, %v", ok, err)
			}
			must(t, s.Create(ctx, "d", rec("x")))
		}, []string{"a", "c", "d"}},
		{"bytes: big records push out the oldest", 100, 4 << 10, func(s *memstore.Store) {
			for _, id := range []string{"a", "b", "c", "d"} {
				must(t, s.Create(ctx, id, rec(strings.Repeat("x", 1000))))
			}
		}, []string{"b", "c", "d"}},
		{"bytes: a deleted record frees its room", 100, 4 << 10, func(s *memstore.Store) {
			for _, id := range []string{"a", "b", "c"} {
				must(t, s.Create(ctx, id, rec(strings.Repeat("x", 1000))))
			}
			must(t, s.Delete(ctx, "b"))
			must(t, s.Create(ctx, "d", rec(strings.Repeat("x", 1000))))
		}, []string{"a", "c", "d"}},
		{"one record above MaxBytes is still kept", 100, 100, func(s *memstore.Store) {
			must(t, s.Create(ctx, "a", rec("x")))
			must(t, s.Create(ctx, "b", rec(strings.Repeat("x", 1000))))
		}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memstore.New()
			s.MaxSessions, s.MaxBytes = tt.count, tt.bytes
			tt.ops(s)
			if diff := cmp.Diff(tt.want, ids(s, "a", "b", "c", "d")); diff != "" {
				t.Errorf("live sessions (-want +got):\n%s", diff)
			}
			if n, _ := s.Count(ctx); n != len(tt.want) {
				t.Errorf("Count = %d, want %d", n, len(tt.want))
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkUserSessions measures the listing of one user's sessions
// among 1 k and 100 k stored sessions (see
// sessiontest.BenchmarkUserSessions).
func BenchmarkUserSessions(b *testing.B) {
	sessiontest.BenchmarkUserSessions(b, func(*testing.B) session.Store { return memstore.New() })
}
