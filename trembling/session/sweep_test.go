package session_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/memstore"
)

// TestSweep runs Sweep in a synctest bubble, whose clock moves only when
// every goroutine in it waits: a record that has expired stays stored
// until the next tick, which removes it and keeps the live one; Sweep
// returns once its context is done.
func TestSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s := memstore.New()
		now := time.Now()
		for id, idle := range map[string]time.Duration{"soon": 30 * time.Minute, "later": 3 * time.Hour} {
			r := session.Record{Data: map[string]any{}, Created: now, IdleExpires: now.Add(idle), AbsoluteExpires: now.Add(24 * time.Hour)}
			if err := s.Create(ctx, id, r); err != nil {
				t.Fatal(err)
			}
		}
		count := func() int {
			t.Helper()
			n, err := s.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			session.Sweep(ctx, s, time.Hour, nil)
		}()

		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if n := count(); n != 2 {
			t.Fatalf("before the first tick: %d records, want 2 (the sweep ran early)", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := count(); n != 1 {
			t.Fatalf("after the first tick: %d records, want 1", n)
		}
		if _, ok, err := s.Find(ctx, "later"); !ok || err != nil {
			t.Fatalf("the live record: found %v, %v", ok, err)
		}

		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Sweep did not return after its context was canceled")
		}
	})
}
