package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// A Filler is a store that can be filled with many records faster than
// one Create each, for benchmarks.
type Filler interface {
	// Fill stores r under each of ids, none of which exists.
	Fill(ctx context.Context, ids []string, r session.Record) error
}

// Sizes are the numbers of stored sessions [BenchmarkSized] runs at.
var Sizes = []struct {
	Name string
	N    int
}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}}

// SizedID returns the id of the i-th session a sized benchmark stores:
// the hex SHA-256 of i, shaped and spread like real ids.
func SizedID(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(b[:])
	return hex.EncodeToString(h[:])
}

// BenchmarkSized measures a session read (Find) and a session save
// (Update of one key) of a random session among 1 k, 100 k and 1 M
// stored ones, as the sub-benchmarks "<size>/Read" and "<size>/Save".
// newStore returns an empty store; it is filled (with [Filler] when the
// store is one) only when a sub-benchmark of that size runs, so that
// -bench 'Sized/1k' does not store a million sessions. With -short the
// 1 M size is skipped. The cost at 1 M should stay within 1.5 times the
// cost at 1 k.
func BenchmarkSized(b *testing.B, newStore func(b *testing.B) session.Store) {
	for _, size := range Sizes {
		b.Run(size.Name, func(b *testing.B) {
			if size.N > 100_000 && testing.Short() {
				b.Skip("-short: no million sessions")
			}
			s := newStore(b)
			ctx := context.Background()
			n := time.Now().Truncate(time.Millisecond)
			rec := session.Record{
				Data: map[string]any{
					"_auth": map[string]any{"user": "alice", "fp": "1f3870be274f6c49b3e31a0c6728957f"},
					"cart":  []any{map[string]any{"sku": "A1", "qty": int64(1)}, map[string]any{"sku": "B2", "qty": int64(2)}},
					"n":     int64(0),
				},
				Created:         n,
				IdleExpires:     n.Add(24 * time.Hour),
				AbsoluteExpires: n.Add(14 * 24 * time.Hour),
			}
			start := time.Now()
			if err := fill(ctx, s, size.N, rec); err != nil {
				b.Fatal(err)
			}
			b.Logf("stored %d sessions in %v", size.N, time.Since(start).Round(time.Millisecond))
			rnd := rand.New(rand.NewPCG(1, uint64(size.N)))
			b.Run("Read", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					id := SizedID(rnd.IntN(size.N))
					if _, ok, err := s.Find(ctx, id); err != nil || !ok {
						b.Fatalf("Find(%s) = %v, %v", id, ok, err)
					}
				}
			})
			b.Run("Save", func(b *testing.B) {
				b.ReportAllocs()
				var i int64
				for b.Loop() {
					i++
					id := SizedID(rnd.IntN(size.N))
					c := session.Change{Set: map[string]any{"n": i}, IdleExpires: time.Now().Add(24 * time.Hour), MaxSize: session.DefaultMaxSize}
					if _, ok, err := s.Update(ctx, id, c); err != nil || !ok {
						b.Fatalf("Update(%s) = %v, %v", id, ok, err)
					}
				}
			})
		})
	}
}

// fill stores n copies of r under SizedID(0) ... SizedID(n-1).
func fill(ctx context.Context, s session.Store, n int, r session.Record) error {
	const batch = 1000
	f, ok := s.(Filler)
	ids := make([]string, 0, batch)
	for i := 0; i < n; i += batch {
		ids = ids[:0]
		for j := i; j < min(n, i+batch); j++ {
			ids = append(ids, SizedID(j))
		}
		if ok {
			if err := f.Fill(ctx, ids, r); err != nil {
				return err
			}
			continue
		}
		for _, id := range ids {
			if err := s.Create(ctx, id, r); err != nil {
				return err
			}
		}
	}
	return nil
}
