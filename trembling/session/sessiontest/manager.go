package sessiontest

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

// TestManager runs the Manager-level suite against the managers
// newManager returns, one per subtest, each with a Store or a Codec set.
// The suite sets the manager's Now to a clock of its own that starts at
// the real time and only moves forward, and wraps its Store to count
// writes. Checks that need server-side revocation are skipped for a
// manager with a Codec.
func TestManager(t *testing.T, newManager func(t *testing.T) *session.Manager) {
	for _, tc := range managerTests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			e := &env{m: m, clock: &clock{t: time.Now()}}
			m.Now = e.clock.now
			if m.Codec == nil {
				e.store = &countingStore{Store: m.Store}
				m.Store = e.store
			}
			tc.fn(t, e)
		})
	}
	for _, tc := range userSessionTests {
		t.Run("UserSessions/"+tc.name, func(t *testing.T) {
			m := newManager(t)
			e := &env{m: m, clock: &clock{t: time.Now()}}
			m.Now = e.clock.now
			m.Owner = func(data map[string]any) string { u, _ := data[ownerKey].(string); return u }
			if m.Codec == nil {
				e.store = &countingStore{Store: m.Store}
				m.Store = e.store
			}
			tc.fn(t, e)
		})
	}
}

var managerTests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"EmptySessionNoCookie", testEmptySession},
	{"NewSessionCookie", testNewSessionCookie},
	{"SecureCookie", testSecureCookie},
	{"UnchangedNoWrite", testUnchanged},
	{"NestedChange", testNestedChange},
	{"IdleRefresh", testIdleRefresh},
	{"IdleTimeout", testIdleTimeout},
	{"AbsoluteLifetime", testAbsoluteLifetime},
	{"LoginLimits", testLoginLimits},
	{"NoSaveOn5xx", testNoSaveOn5xx},
	{"UnknownCookieNotAdopted", testUnknownCookie},
	{"Destroy", testDestroy},
	{"RenewToken", testRenewToken},
	{"DeletedMeanwhile", testDeletedMeanwhile},
	{"EmptiedSession", testEmptied},
	{"BadValue", testBadValue},
	{"ConcurrentRequestsMerge", testConcurrentRequestsMerge},
	{"SizeLimit", testManagerSizeLimit},
}

// env is one subtest's manager, clock, counted store and browser.
type env struct {
	m      *session.Manager
	clock  *clock
	store  *countingStore // nil with a Codec
	cookie string         // the browser's session cookie value, "" for none
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingStore counts the writes that reach a Store.
type countingStore struct {
	session.Store
	writes atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, id string, r session.Record) error {
	s.writes.Add(1)
	return s.Store.Create(ctx, id, r)
}

func (s *countingStore) Update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	s.writes.Add(1)
	return s.Store.Update(ctx, id, c)
}

func (s *countingStore) Delete(ctx context.Context, id string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, id)
}

// The UserIndex methods pass through, or fail with
// session.ErrNoUserIndex when the store is not one.

func (s *countingStore) AddUserSession(ctx context.Context, user, id string, expires time.Time) error {
	ix, ok := s.Store.(session.UserIndex)
	if !ok {
		return session.ErrNoUserIndex
	}
	s.writes.Add(1)
	return ix.AddUserSession(ctx, user, id, expires)
}

func (s *countingStore) RemoveUserSession(ctx context.Context, user, id string) error {
	ix, ok := s.Store.(session.UserIndex)
	if !ok {
		return session.ErrNoUserIndex
	}
	s.writes.Add(1)
	return ix.RemoveUserSession(ctx, user, id)
}

func (s *countingStore) UserSessions(ctx context.Context, user string) ([]string, error) {
	ix, ok := s.Store.(session.UserIndex)
	if !ok {
		return nil, session.ErrNoUserIndex
	}
	return ix.UserSessions(ctx, user)
}

func (e *env) writes() int64 {
	if e.store == nil {
		return -1
	}
	return e.store.writes.Load()
}

// result is what one request did.
type result struct {
	header http.Header
	cookie *http.Cookie // the session cookie set, nil for none
	err    error        // from Commit
}

// name is the session cookie's name on the suite's requests, to a host
// that is not loopback.
func (e *env) name() string {
	return e.m.CookieName(httptest.NewRequest("GET", "http://example.test/page", nil))
}

// request makes a request carrying cookie (none when ""), loads its
// session, runs fn on it and commits with status.
func (e *env) request(t *testing.T, cookie string, status int, tlsOn bool, fn func(s *session.Session)) result {
	t.Helper()
	ctx := ctxT(t)
	r := httptest.NewRequest("GET", "http://example.test/page", nil)
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: e.name(), Value: cookie})
	}
	s, err := e.m.Load(ctx, r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if fn != nil {
		fn(s)
	}
	h := http.Header{}
	res := result{header: h, err: e.m.Commit(ctx, h, s, status)}
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == e.name() {
			if res.cookie != nil {
				t.Fatalf("two Set-Cookie headers for %s: %q", e.name(), h.Values("Set-Cookie"))
			}
			res.cookie = c
		}
	}
	return res
}

// do is a request from the env's browser, which keeps the cookie the
// response sets or expires.
func (e *env) do(t *testing.T, status int, fn func(s *session.Session)) result {
	t.Helper()
	res := e.request(t, e.cookie, status, false, fn)
	if res.err != nil {
		t.Fatalf("Commit: %v", res.err)
	}
	if c := res.cookie; c != nil {
		if c.MaxAge < 0 {
			e.cookie = ""
		} else {
			e.cookie = c.Value
		}
	}
	return res
}

// load returns the data of the session that cookie finds, and whether it
// found one (false: a new session). It does not commit, so it does not
// count as a use of the session.
func (e *env) load(t *testing.T, cookie string) (map[string]any, bool) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://example.test/page", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: e.name(), Value: cookie})
	}
	s, err := e.m.Load(ctxT(t), r)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s.Data(), !s.IsNew()
}

func set(key string, v any) func(*session.Session) {
	return func(s *session.Session) {
		if err := s.Set(key, v); err != nil {
			panic(err)
		}
	}
}

func testEmptySession(t *testing.T, e *env) {
	for _, status := range []int{200, 302, 404} {
		res := e.do(t, status, func(s *session.Session) {
			if !s.IsNew() || len(s.Data()) != 0 {
				t.Errorf("a request without a cookie got a session with data %v", s.Data())
			}
			// Reading and deleting missing keys changes nothing.
			s.Get("user_id")
			s.Delete("messages")
		})
		if res.cookie != nil || len(res.header) != 0 {
			t.Errorf("status %d: an empty session set headers %v, want none", status, res.header)
		}
	}
	if w := e.writes(); w > 0 {
		t.Errorf("empty sessions made %d store writes, want 0", w)
	}
}

func testNewSessionCookie(t *testing.T, e *env) {
	res := e.do(t, 200, set("user_id", "u1"))
	c := res.cookie
	if c == nil {
		t.Fatalf("no session cookie set; headers %v", res.header)
	}
	want := http.Cookie{Name: "__Host-session_key", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: int(session.DefaultIdleTimeout / time.Second)}
	got := http.Cookie{Name: c.Name, Path: c.Path, HttpOnly: c.HttpOnly, SameSite: c.SameSite, Secure: c.Secure, MaxAge: c.MaxAge}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("cookie attributes (-want +got):\n%s", d)
	}
	if wantExp := e.clock.now().Add(session.DefaultIdleTimeout); c.Expires.Unix() != wantExp.Unix() {
		t.Errorf("cookie Expires = %v, want %v", c.Expires, wantExp)
	}
	if e.m.Codec == nil {
		if _, err := session.ParseToken(c.Value); err != nil {
			t.Errorf("cookie value %q is not a token: %v", c.Value, err)
		}
	}
	if got := res.header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if got := res.header.Get("Cache-Control"); got != "private" {
		t.Errorf("Cache-Control = %q, want private", got)
	}
	if w := e.writes(); e.store != nil && w != 1 {
		t.Errorf("store writes = %d, want 1", w)
	}
	data, found := e.load(t, e.cookie)
	if !found || !cmp.Equal(data, map[string]any{"user_id": "u1"}) {
		t.Errorf("next request loads %v (found %v), want user_id=u1", data, found)
	}

	// A second new session gets a different cookie.
	other := e.request(t, "", 200, false, set("x", int64(1)))
	if other.cookie == nil || other.cookie.Value == c.Value {
		t.Errorf("second session's cookie %v, want a new value", other.cookie)
	}
}

func testSecureCookie(t *testing.T, e *env) {
	for _, tc := range []struct {
		cookie   session.Cookie
		url      string
		tls      bool
		header   string // X-Forwarded-Proto
		secure   bool
		wantName string
	}{
		{url: "http://example.test/", secure: true, wantName: "__Host-session_key"},
		{url: "http://127.0.0.1:8080/", wantName: "session_key"},
		{url: "http://127.3.4.5/", wantName: "session_key"},
		{url: "http://[::1]:8080/", wantName: "session_key"},
		{url: "http://localhost:8080/", wantName: "session_key"},
		{url: "http://app.localhost/", wantName: "session_key"},
		{url: "http://localhost.example.test/", secure: true, wantName: "__Host-session_key"},
		{url: "http://10.0.0.1/", secure: true, wantName: "__Host-session_key"},
		{url: "http://127.0.0.1/", tls: true, secure: true, wantName: "__Host-session_key"},
		{url: "http://127.0.0.1/", header: "https", secure: true, wantName: "__Host-session_key"},
		{cookie: session.Cookie{Secure: true}, url: "http://localhost/", secure: true, wantName: "__Host-session_key"},
		{cookie: session.Cookie{Insecure: true}, url: "http://example.test/", wantName: "session_key"},
		{cookie: session.Cookie{Insecure: true}, url: "http://example.test/", tls: true, secure: true, wantName: "__Host-session_key"},
		{cookie: session.Cookie{Insecure: true, Secure: true}, url: "http://example.test/", secure: true, wantName: "__Host-session_key"},
		{cookie: session.Cookie{Name: "sid"}, url: "http://example.test/", secure: true, wantName: "__Host-sid"},
		{cookie: session.Cookie{Name: "__Secure-sid"}, url: "http://example.test/", secure: true, wantName: "__Secure-sid"},
		{cookie: session.Cookie{Path: "/app"}, url: "http://example.test/app", secure: true, wantName: "session_key"},
		{cookie: session.Cookie{Domain: "example.test"}, url: "http://example.test/", secure: true, wantName: "session_key"},
	} {
		e.m.Cookie = tc.cookie
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.header != "" {
			r.Header.Set("X-Forwarded-Proto", tc.header)
		}
		s, err := e.m.Load(ctxT(t), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set("x", int64(1)); err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		if err := e.m.Commit(ctxT(t), h, s, 200); err != nil {
			t.Fatal(err)
		}
		c, err := http.ParseSetCookie(h.Get("Set-Cookie"))
		if err != nil {
			t.Fatalf("%+v %s: Set-Cookie %q: %v", tc.cookie, tc.url, h.Get("Set-Cookie"), err)
		}
		if c.Name != tc.wantName || c.Secure != tc.secure {
			t.Errorf("%+v %s (TLS %v, X-Forwarded-Proto %q): cookie %s Secure=%v, want %s Secure=%v",
				tc.cookie, tc.url, tc.tls, tc.header, c.Name, c.Secure, tc.wantName, tc.secure)
		}
		if got := e.m.CookieName(r); got != c.Name {
			t.Errorf("%+v %s: CookieName = %s, but the cookie set is %s", tc.cookie, tc.url, got, c.Name)
		}
		// The next request finds the session under the name it was given.
		r2 := httptest.NewRequest("GET", tc.url, nil)
		r2.TLS, r2.Header = r.TLS, r.Header.Clone()
		r2.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		if !e.m.HasCookie(r2) {
			t.Errorf("%+v %s: HasCookie = false for the cookie just set", tc.cookie, tc.url)
		}
		s2, err := e.m.Load(ctxT(t), r2)
		if err != nil || s2.IsNew() {
			t.Errorf("%+v %s: the session set as %s is not found by the next request (%v)", tc.cookie, tc.url, c.Name, err)
		}
	}
}
