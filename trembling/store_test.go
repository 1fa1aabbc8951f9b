package trembling_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/session"
)

// clock is a test clock that moves only when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func TestSweeperRemovesExpiredSessions(t *testing.T) {
	for _, tc := range storeCases[:2] {
		t.Run(tc.store, func(t *testing.T) {
			clk := newClock()
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: trembling.Config{
				Store:       tc.store,
				IdleTimeout: time.Hour,
				SweepEvery:  20 * time.Millisecond,
				Now:         clk.Now,
			}})
			c := newClient(t, s)
			get(t, c, s, "/counter.html")
			if n := s.count(); n != 1 {
				t.Fatalf("%d records, want 1", n)
			}
			clk.Add(2 * time.Hour)
			// The server refuses the expired session at once ...
			if r := get(t, c, s, "/read.html"); r.body != "count=0" {
				t.Errorf("expired session read: %v, want count=0", r)
			}
			// ... and the sweeper removes its record.
			deadline := time.Now().Add(20 * time.Second)
			for s.count() != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the sweeper did not remove the expired record")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestKeyFileCreatedOnceByConcurrentStarts(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "keys")
	const n = 4
	var (
		wg    sync.WaitGroup
		sites [n]*aspengo.Website
		trs   [n]*trembling.Trembling
		errs  [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reg := aspengo.NewRegistry()
			tr, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreCookie, KeyDir: keyDir, Logger: quiet})
			if err != nil {
				errs[i] = err
				return
			}
			w, err := aspengo.New(aspengo.Config{Root: filepath.Join("testdata", "storeattr"), Registry: reg, HooksFile: os.DevNull, Logger: quiet})
			if err != nil {
				errs[i] = err
				return
			}
			sites[i], trs[i] = w, tr
			errs[i] = w.Start(context.Background())
		}()
	}
	wg.Wait()
	for i := range n {
		if sites[i] != nil {
			defer sites[i].Shutdown(context.Background())
		}
		if errs[i] != nil {
			t.Fatalf("site %d: %v", i, errs[i])
		}
	}
	now := time.Now().Truncate(time.Millisecond)
	rec := session.Record{Data: map[string]any{"k": "v"}, Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(time.Hour)}
	sealed, err := trs[0].Manager(sites[0]).Codec.Seal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if _, ok := trs[i].Manager(sites[i]).Codec.Open(sealed); !ok {
			t.Errorf("site %d has another key than site 0", i)
		}
	}
	entries, err := os.ReadDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".gitignore", trembling.KeyFileName}; !slices.Equal(names, want) {
		t.Errorf("key directory holds %q, want %q (no temporary files left)", names, want)
	}
}
