package trembling_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/session"
)

// countingStore counts the calls that reach a session store.
type countingStore struct {
	session.Store
	finds, writes atomic.Int64
}

func (s *countingStore) Find(ctx context.Context, id string) (session.Record, bool, error) {
	s.finds.Add(1)
	return s.Store.Find(ctx, id)
}

func (s *countingStore) Create(ctx context.Context, id string, r session.Record) error {
	s.writes.Add(1)
	return s.Store.Create(ctx, id, r)
}

func (s *countingStore) Update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	s.writes.Add(1)
	return s.Store.Update(ctx, id, c)
}

func (s *countingStore) Count(ctx context.Context) (int, error) {
	return s.Store.(interface {
		Count(context.Context) (int, error)
	}).Count(ctx)
}

func (s *countingStore) Delete(ctx context.Context, id string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, id)
}

// countCalls makes s's session store count its calls; call it before the
// requests to count.
func countCalls(s *testSite) *countingStore {
	m := s.tr.Manager(s.w)
	c := &countingStore{Store: m.Store}
	m.Store = c
	return c
}

// TestLazySession checks that a request with a session cookie that never
// uses its session (a static file, a page that does not read it) costs
// no store call and changes no cookie, and that a page that reads
// it costs one read.
func TestLazySession(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases[:2] {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			if r := get(t, c, s, "/counter.html"); r.code != 200 || jarValue(t, c, s) == "" {
				t.Fatalf("counter: %v, no session cookie", r)
			}
			calls := countCalls(s)
			for _, path := range []string{"/static.txt", "/plain.json"} {
				r := get(t, c, s, path)
				if r.code != 200 && r.code != 404 {
					t.Fatalf("%s: %v", path, r)
				}
				if ck := sessionCookie(r.header); ck != nil {
					t.Errorf("%s set the session cookie %v", path, ck)
				}
				if f, w := calls.finds.Load(), calls.writes.Load(); f+w != 0 {
					t.Errorf("%s: %d store reads and %d writes, want none", path, f, w)
				}
			}
			if r := get(t, c, s, "/read.html"); strings.TrimSpace(r.body) != "count=1" {
				t.Fatalf("read: %v", r)
			}
			if f, w := calls.finds.Load(), calls.writes.Load(); f != 1 || w != 0 {
				t.Errorf("a page that reads the session: %d reads, %d writes; want 1 and 0", f, w)
			}
		})
	}
}

// TestSessionSizeLimit checks that a save over Config.MaxSessionSize
// fails the request with an error naming the limit, and writes nothing.
func TestSessionSizeLimit(t *testing.T) {
	t.Parallel()
	cfg := trembling.Config{Store: trembling.StoreMemory, MaxSessionSize: 1000}
	s := startSite(t, siteOptions{cfg: cfg})
	c := newClient(t, s)
	if r := get(t, c, s, "/big.html?n=100"); r.code != 200 || s.count() != 1 {
		t.Fatalf("a small session: %v, %d records", r, s.count())
	}
	calls := countCalls(s)
	r := get(t, c, s, "/big.html?n=2000")
	if r.code != 500 {
		t.Errorf("a session over the limit: %v, want 500", r)
	}
	if !s.logged("size limit of 1000 bytes") {
		t.Errorf("the log does not name the limit:\n%s", s.log.String())
	}
	if w := calls.writes.Load(); w != 0 {
		t.Errorf("%d store writes for a session over the limit", w)
	}
	if r := get(t, c, s, "/read.html"); r.code != 200 {
		t.Errorf("after the refused save: %v", r)
	}
}

// TestCookielessLogoutCreatesNoSession posts to the example site's logout
// page without a session, as anyone can: no session is stored, and no
// cookie is set, just to say "you are logged out".
func TestCookielessLogoutCreatesNoSession(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{
		root: filepath.Join("..", "example", "www"),
		uri:  engineURI(t),
		cfg:  trembling.Config{Store: trembling.StoreMongo},
	})
	c := newClient(t, s)
	calls := countCalls(s)
	for range 3 {
		r := post(t, c, s, "/account/logout.html", url.Values{})
		if r.code != http.StatusFound {
			t.Fatalf("POST logout: %v", r)
		}
		if ck := sessionCookie(r.header); ck != nil {
			t.Errorf("a cookieless logout set the session cookie %v", ck)
		}
	}
	if n, w := s.count(), calls.writes.Load(); n != 0 || w != 0 {
		t.Errorf("cookieless logouts left %d sessions after %d store writes, want none", n, w)
	}
}

// TestParallelRequestsMerge sends requests on one session at once, as
// tabs do: each sets its own key (a JSON page, which displays no
// message) or adds its own message, and all of
// them are kept; a page then displays every message once.
func TestParallelRequestsMerge(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases[:2] {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			get(t, c, s, "/counter.html")
			const n = 5
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					get(t, c, s, fmt.Sprintf("/setkey.json?k=tab%d&v=%d", i, i))
				})
				wg.Go(func() {
					if r := post(t, c, s, "/add", url.Values{"text": {fmt.Sprintf("message %d", i)}}); r.code != 302 {
						t.Errorf("POST /add: %v", r)
					}
				})
			}
			wg.Wait()
			sess, msgs := dump(t, c, s)
			for i := range n {
				if sess[fmt.Sprintf("tab%d", i)] != fmt.Sprint(i) {
					t.Errorf("tab%d = %v, want %d: a parallel request's key was lost", i, sess[fmt.Sprintf("tab%d", i)], i)
				}
			}
			if len(msgs) != n {
				t.Errorf("%d messages waiting after %d parallel adds: %v", len(msgs), n, msgs)
			}
			r := get(t, c, s, "/show.html")
			if got := strings.Count(r.body, "<li>"); got != n {
				t.Errorf("show: %d messages, want %d: %v", got, n, r)
			}
			if r := get(t, c, s, "/show.html"); r.body != emptyList {
				t.Errorf("show again: %v, want no messages", r)
			}
		})
	}
}
