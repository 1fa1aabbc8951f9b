package trembling_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling"
)

// TestDatabaseDown stops the database under a running site: requests
// that need the session store get a 503 within the store timeout, and
// once the database is back on the same data directory the site
// recovers, sessions intact, without a restart.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	dir := filepath.Join(t.TempDir(), "data")
	e1 := enginetest.Engine(t, dir)
	uri := e1.URI()
	s := startSite(t, siteOptions{
		uri:       uri,
		dbTimeout: timeout,
		cfg:       trembling.Config{Store: trembling.StoreMongo, StoreTimeout: timeout},
	})
	c := newClient(t, s)
	if r := get(t, c, s, "/counter.html"); r.body != "count=1" {
		t.Fatalf("before: %v", r)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The first request may meet a dead pooled connection, the next ones
	// a server selection that times out: each is a 503, bounded by the
	// store timeout rather than hanging.
	for i := range 3 {
		start := time.Now()
		r := get(t, c, s, "/counter.html")
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("request %d with the database down took %v", i+1, elapsed)
		}
		if r.code != 503 {
			t.Fatalf("request %d with the database down: got %v, want 503", i+1, r)
		}
	}
	if !s.logged("session store unavailable") {
		t.Errorf("log lacks the store error:\n%s", s.log.String())
	}
	// A visitor without a session cookie needs no store read, so pages
	// that store nothing are still served.
	if r := get(t, newClient(t, s), s, "/anon.html"); r.code != 200 {
		t.Errorf("anonymous page with the database down: %v", r)
	}

	e2 := enginetest.Engine(t, dir)
	if e2.URI() != uri {
		t.Fatalf("the engine came back at %s, not %s: the site's client cannot find it", e2.URI(), uri)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r := get(t, c, s, "/counter.html")
		if r.code == 200 {
			if r.body != "count=2" {
				t.Fatalf("after recovery: got %v, want count=2", r)
			}
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("not recovered: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
