package sessiontest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

func testUnchanged(t *testing.T, e *env) {
	e.do(t, 200, set("cart", []any{map[string]any{"sku": "A1", "qty": int64(1)}}))
	before := e.writes()
	for range 3 {
		e.clock.advance(10 * time.Second)
		res := e.do(t, 200, func(s *session.Session) {
			// Setting a value to what it already is is no change.
			s.Set("cart", []any{map[string]any{"qty": int64(1), "sku": "A1"}})
		})
		if res.cookie != nil || len(res.header) != 0 {
			t.Errorf("an unchanged session set headers %v", res.header)
		}
	}
	if w := e.writes(); w != before {
		t.Errorf("unchanged session made %d store writes, want 0", w-before)
	}
}

func testNestedChange(t *testing.T, e *env) {
	e.do(t, 200, set("cart", []any{map[string]any{"sku": "A1", "qty": int64(1)}}))
	res := e.do(t, 200, func(s *session.Session) {
		v, _ := s.Get("cart")
		item := v.([]any)[0].(map[string]any)
		item["qty"] = int64(2) // changed in place, two levels down
	})
	if res.cookie == nil {
		t.Fatalf("a nested change set no cookie")
	}
	data, _ := e.load(t, e.cookie)
	want := map[string]any{"cart": []any{map[string]any{"sku": "A1", "qty": int64(2)}}}
	if d := cmp.Diff(want, data); d != "" {
		t.Errorf("after a nested change (-want +got):\n%s", d)
	}
	// int64(2) -> float64(2) is a change too.
	e.do(t, 200, func(s *session.Session) {
		v, _ := s.Get("cart")
		v.([]any)[0].(map[string]any)["qty"] = float64(2)
	})
	data, _ = e.load(t, e.cookie)
	if got := data["cart"].([]any)[0].(map[string]any)["qty"]; got != float64(2) {
		t.Errorf("qty = %#v after changing its type, want float64(2)", got)
	}
}

func testIdleRefresh(t *testing.T, e *env) {
	e.do(t, 200, set("x", int64(1)))
	e.clock.advance(30 * time.Second)
	if res := e.do(t, 200, nil); res.cookie != nil {
		t.Errorf("refresh after 30s: cookie set, want none within a minute")
	}
	before := e.writes()
	e.clock.advance(31 * time.Second)
	res := e.do(t, 200, nil)
	if res.cookie == nil {
		t.Fatalf("no refresh after 61s")
	}
	if e.store != nil && e.writes() != before+1 {
		t.Errorf("refresh made %d writes, want 1", e.writes()-before)
	}
	if want := e.clock.now().Add(session.DefaultIdleTimeout); res.cookie.Expires.Unix() != want.Unix() {
		t.Errorf("refreshed cookie expires %v, want %v", res.cookie.Expires, want)
	}
	// The stored idle expiry moved: 23h later (past the first expiry)
	// the session is still there.
	e.clock.advance(23*time.Hour + 30*time.Minute)
	if _, found := e.load(t, e.cookie); !found {
		t.Errorf("session gone 23.5h after a refresh, want it kept")
	}
}

func testIdleTimeout(t *testing.T, e *env) {
	e.do(t, 200, set("x", int64(1)))
	old := e.cookie
	e.clock.advance(session.DefaultIdleTimeout - time.Second)
	if _, found := e.load(t, old); !found {
		t.Fatalf("session gone before its idle timeout")
	}
	e.clock.advance(time.Second)
	if data, found := e.load(t, old); found {
		t.Errorf("session loaded with %v at its idle timeout, want a new session", data)
	}
	// Saving the new session does not bring back the old data.
	e.do(t, 200, set("y", int64(2)))
	if data, _ := e.load(t, e.cookie); !cmp.Equal(data, map[string]any{"y": int64(2)}) {
		t.Errorf("session after the timeout = %v, want only y", data)
	}
	if e.m.Codec == nil && e.cookie == old {
		t.Errorf("the expired session's token was reused")
	}
}

// testLoginLimits checks that a session Manager.LoggedIn reports as
// logged in gets the login limits, and others keep the anonymous ones.
func testLoginLimits(t *testing.T, e *env) {
	e.m.LoggedIn = func(data map[string]any) bool { _, ok := data["user"]; return ok }
	// start makes a session with key set, as its own browser.
	start := func(key string) string {
		res := e.request(t, "", 200, false, set(key, "alice"))
		if res.err != nil || res.cookie == nil {
			t.Fatalf("new session: cookie %v, error %v", res.cookie, res.err)
		}
		return res.cookie.Value
	}
	// use is a request of the browser holding *cookie that changes
	// nothing (so only a due idle refresh is saved).
	use := func(cookie *string) {
		res := e.request(t, *cookie, 200, false, nil)
		if res.err != nil {
			t.Fatalf("Commit: %v", res.err)
		}
		if res.cookie != nil {
			*cookie = res.cookie.Value
		}
	}

	anon, user := start("name"), start("user")
	e.clock.advance(session.DefaultLoginIdleTimeout - time.Second)
	if _, found := e.load(t, user); !found {
		t.Fatalf("logged-in session gone before its idle timeout")
	}
	e.clock.advance(time.Second)
	if _, found := e.load(t, user); found {
		t.Errorf("logged-in session still there %v after its last use, want gone", session.DefaultLoginIdleTimeout)
	}
	if _, found := e.load(t, anon); !found {
		t.Errorf("anonymous session gone after %v, want it kept for %v", session.DefaultLoginIdleTimeout, session.DefaultIdleTimeout)
	}

	// Used every 20 minutes, a logged-in session ends 12 hours after it
	// began; an anonymous one goes on.
	anon, user = start("name"), start("user")
	for elapsed := time.Duration(0); elapsed < session.DefaultLoginLifetime-20*time.Minute; elapsed += 20 * time.Minute {
		e.clock.advance(20 * time.Minute)
		use(&anon)
		use(&user)
		if _, found := e.load(t, user); !found {
			t.Fatalf("logged-in session used every 20 minutes gone after %v, before its lifetime", elapsed+20*time.Minute)
		}
	}
	e.clock.advance(20 * time.Minute)
	if _, found := e.load(t, user); found {
		t.Errorf("logged-in session still there %v after it began, want gone", session.DefaultLoginLifetime)
	}
	if _, found := e.load(t, anon); !found {
		t.Errorf("anonymous session used every 20 minutes gone after %v", session.DefaultLoginLifetime)
	}

	// Configured limits replace the defaults.
	e.m.LoginIdleTimeout, e.m.LoginLifetime = 5*time.Minute, time.Hour
	user = start("user")
	e.clock.advance(5 * time.Minute)
	if _, found := e.load(t, user); found {
		t.Errorf("logged-in session still there after LoginIdleTimeout %v", e.m.LoginIdleTimeout)
	}
	user = start("user")
	for range 14 {
		e.clock.advance(4 * time.Minute)
		use(&user)
	}
	if _, found := e.load(t, user); !found {
		t.Fatalf("logged-in session used every 4 minutes gone after 56 minutes")
	}
	e.clock.advance(4 * time.Minute)
	if _, found := e.load(t, user); found {
		t.Errorf("logged-in session still there after LoginLifetime %v", e.m.LoginLifetime)
	}
}

func testAbsoluteLifetime(t *testing.T, e *env) {
	e.m.IdleTimeout = 30 * time.Minute
	e.m.Lifetime = 2 * time.Hour
	e.do(t, 200, set("n", int64(0)))
	for i := int64(1); i <= 5; i++ { // uses at 20, 40, ... 100 minutes
		e.clock.advance(20 * time.Minute)
		e.do(t, 200, set("n", i))
	}
	data, found := e.load(t, e.cookie)
	if !found || data["n"] != int64(5) {
		t.Fatalf("at 100 min: loaded %v, %v; want n=5", data, found)
	}
	e.clock.advance(20 * time.Minute) // 120 minutes: the lifetime is over
	if data, found := e.load(t, e.cookie); found {
		t.Errorf("session loaded with %v after its lifetime, want a new session", data)
	}
}

func testNoSaveOn5xx(t *testing.T, e *env) {
	res := e.do(t, 500, set("x", int64(1)))
	if res.cookie != nil || len(res.header) != 0 {
		t.Errorf("a new session on a 500 set headers %v", res.header)
	}
	e.do(t, 200, set("x", int64(1)))
	before := e.writes()
	for _, status := range []int{500, 502, 503} {
		res := e.do(t, status, set("x", int64(status)))
		if res.cookie != nil {
			t.Errorf("status %d set a cookie", status)
		}
	}
	if w := e.writes(); w != before {
		t.Errorf("5xx responses made %d store writes", w-before)
	}
	if data, _ := e.load(t, e.cookie); data["x"] != int64(1) {
		t.Errorf("after 5xx responses x = %v, want 1", data["x"])
	}
	e.do(t, 404, set("x", int64(404)))
	if data, _ := e.load(t, e.cookie); data["x"] != int64(404) {
		t.Errorf("a 404 did not save: x = %v", data["x"])
	}
}

func testUnknownCookie(t *testing.T, e *env) {
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{tok.String(), "garbage", strings.Repeat("A", 43), tok.String()[:42], tok.String() + "A"} {
		res := e.request(t, bad, 200, false, func(s *session.Session) {
			if !s.IsNew() {
				t.Errorf("cookie %q adopted", bad)
			}
		})
		if res.cookie != nil {
			t.Errorf("cookie %q: an empty session set a cookie", bad)
		}
		res = e.request(t, bad, 200, false, set("x", int64(1)))
		if res.cookie == nil || res.cookie.Value == bad {
			t.Errorf("cookie %q: new session got cookie %v, want a new value", bad, res.cookie)
		}
	}
}

func testDestroy(t *testing.T, e *env) {
	e.do(t, 200, set("user_id", "u1"))
	old := e.cookie
	res := e.do(t, 200, func(s *session.Session) {
		if err := s.Destroy(context.Background()); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		if !s.IsNew() || len(s.Data()) != 0 {
			t.Errorf("after Destroy: IsNew %v, data %v; want a new empty session", s.IsNew(), s.Data())
		}
	})
	if c := res.cookie; c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("Destroy: cookie %v, want an expired empty cookie", c)
	}
	if res.header.Get("Vary") != "Cookie" || res.header.Get("Cache-Control") != "private" {
		t.Errorf("expiring response headers %v, want Vary: Cookie and Cache-Control: private", res.header)
	}
	if e.m.Codec == nil {
		if data, found := e.load(t, old); found {
			t.Errorf("the destroyed session's cookie still loads %v", data)
		}
	}

	// Logout then a message: a new session with only the message.
	e.cookie = old
	e.do(t, 200, set("user_id", "u2"))
	old = e.cookie
	e.do(t, 200, func(s *session.Session) {
		if err := s.Destroy(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Set("messages", "Signed out.")
	})
	if e.cookie == "" || e.cookie == old {
		t.Fatalf("Destroy then Set: cookie %q, want a new one", e.cookie)
	}
	if data, _ := e.load(t, e.cookie); !cmp.Equal(data, map[string]any{"messages": "Signed out."}) {
		t.Errorf("after Destroy then Set, session = %v, want only the message", data)
	}
	if e.m.Codec == nil {
		if data, found := e.load(t, old); found {
			t.Errorf("the destroyed session's cookie still loads %v", data)
		}
	}
}

func testRenewToken(t *testing.T, e *env) {
	e.m.IdleTimeout = 30 * time.Minute
	e.m.Lifetime = 2 * time.Hour
	e.do(t, 200, set("cart", []any{"book"}))
	old := e.cookie
	for range 3 {
		e.clock.advance(20 * time.Minute)
		e.do(t, 200, nil) // refreshes the idle expiry
	}
	e.do(t, 200, func(s *session.Session) {
		if err := s.RenewToken(context.Background()); err != nil {
			t.Fatalf("RenewToken: %v", err)
		}
		s.Set("user_id", "u1")
	})
	if e.cookie == "" || e.cookie == old {
		t.Fatalf("RenewToken: cookie %q, want a new one", e.cookie)
	}
	want := map[string]any{"cart": []any{"book"}, "user_id": "u1"}
	if data, _ := e.load(t, e.cookie); !cmp.Equal(data, want) {
		t.Errorf("after RenewToken session = %v, want %v", data, want)
	}
	if e.m.Codec == nil {
		if data, found := e.load(t, old); found {
			t.Errorf("the old token still loads %v", data)
		}
	}
	// The renewed session's lifetime counts from the renewal, an hour
	// after the first save: at 2h10m it is still there.
	for range 3 {
		e.clock.advance(20 * time.Minute)
		e.do(t, 200, nil)
	}
	e.clock.advance(10 * time.Minute)
	if _, found := e.load(t, e.cookie); !found {
		t.Errorf("renewed session ended within its lifetime counted from the renewal")
	}
	e.clock.advance(50 * time.Minute) // 3h: the renewed lifetime is over
	if data, found := e.load(t, e.cookie); found {
		t.Errorf("renewed session still loads %v past its lifetime", data)
	}
}

func testDeletedMeanwhile(t *testing.T, e *env) {
	if e.m.Codec != nil {
		t.Skip("a sealed cookie cannot be deleted server-side")
	}
	e.do(t, 200, set("user_id", "u1"))
	old := e.cookie
	ctx := ctxT(t)
	// Request B loads the session, then request A logs out, then B saves.
	rb := httptest.NewRequest("GET", "/", nil)
	rb.AddCookie(&http.Cookie{Name: e.name(), Value: old})
	sb, err := e.m.Load(ctx, rb)
	if err != nil || sb.IsNew() {
		t.Fatalf("Load B = %v, new %v", err, sb != nil && sb.IsNew())
	}
	e.do(t, 200, func(s *session.Session) {
		if err := s.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
	})
	sb.Set("cart", []any{"book"})
	h := http.Header{}
	if err := e.m.Commit(ctx, h, sb, 200); err != nil {
		t.Fatalf("Commit B: %v", err)
	}
	if len(h) != 0 {
		t.Errorf("B's response after the logout has headers %v, want none", h)
	}
	if data, found := e.load(t, old); found {
		t.Errorf("B's save brought the deleted session back: %v", data)
	}
}

func testEmptied(t *testing.T, e *env) {
	e.do(t, 200, set("messages", "Welcome!"))
	old := e.cookie
	res := e.do(t, 200, func(s *session.Session) {
		if v, ok := s.Pop("messages"); !ok || v != "Welcome!" {
			t.Errorf("Pop = %v, %v", v, ok)
		}
	})
	if c := res.cookie; c == nil || c.MaxAge >= 0 {
		t.Errorf("emptied session: cookie %v, want it expired", c)
	}
	if e.m.Codec == nil {
		if data, found := e.load(t, old); found {
			t.Errorf("emptied session still stored: %v", data)
		}
	}
}

func testBadValue(t *testing.T, e *env) {
	res := e.request(t, "", 200, false, func(s *session.Session) {
		err := s.Set("count", 1) // an int, not an int64
		var ve *session.ValueError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), `"count"`) {
			t.Errorf("Set of an int: %v, want a ValueError naming the key", err)
		}
		if _, ok := s.Get("count"); ok {
			t.Errorf("a refused value was stored")
		}
		s.Data()["cart"] = []any{"ok", map[string]any{"when": time.Now()}}
	})
	if res.err == nil || !strings.Contains(res.err.Error(), `"cart"[1]["when"]`) {
		t.Errorf("Commit with a time.Time inside: %v, want an error naming \"cart\"[1][\"when\"]", res.err)
	}
	if res.cookie != nil {
		t.Errorf("a refused Commit set a cookie")
	}
	if w := e.writes(); w > 0 {
		t.Errorf("a refused Commit made %d store writes", w)
	}
}

// testConcurrentRequestsMerge loads one session in several requests at
// once, as browser tabs do; each changes its own key and pushes its own
// item, and all of that is kept. One also changes a shared key, and a
// later one changes it again: the last save wins.
func testConcurrentRequestsMerge(t *testing.T, e *env) {
	if e.m.Codec != nil {
		t.Skip("a sealed cookie holds one request's view of the session: nothing can merge it with another's")
	}
	e.do(t, 200, set("shared", "first"))
	ctx := ctxT(t)
	const n = 6
	sessions := make([]*session.Session, n)
	for i := range sessions {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: e.name(), Value: e.cookie})
		s, err := e.m.Load(ctx, r)
		if err != nil || s.IsNew() {
			t.Fatalf("Load %d = %v, new %v", i, err, s != nil && s.IsNew())
		}
		sessions[i] = s
	}
	for i, s := range sessions {
		s.Set(fmt.Sprintf("tab%d", i), int64(i))
		if err := s.Push("queue", fmt.Sprintf("item %d", i)); err != nil {
			t.Fatal(err)
		}
		if i >= n-2 {
			s.Set("shared", fmt.Sprintf("tab %d", i))
		}
		if err := e.m.Commit(ctx, http.Header{}, s, 200); err != nil {
			t.Fatalf("Commit %d: %v", i, err)
		}
	}
	data, found := e.load(t, e.cookie)
	if !found {
		t.Fatal("the session is gone")
	}
	for i := range n {
		if data[fmt.Sprintf("tab%d", i)] != int64(i) {
			t.Errorf("tab%d = %v, want %d: a concurrent save lost it", i, data[fmt.Sprintf("tab%d", i)], i)
		}
	}
	if q, _ := data["queue"].([]any); len(q) != n {
		t.Errorf("queue = %v, want the %d items pushed", q, n)
	}
	if got := data["shared"]; got != fmt.Sprintf("tab %d", n-1) {
		t.Errorf("shared = %v, want the last save's %q", got, fmt.Sprintf("tab %d", n-1))
	}
	// Pulling one item keeps the others, even from a stale view.
	res := e.do(t, 200, func(s *session.Session) {
		if err := s.Pull("queue", "item 0"); err != nil {
			t.Fatal(err)
		}
	})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if data, _ := e.load(t, e.cookie); len(data["queue"].([]any)) != n-1 {
		t.Errorf("queue after one Pull = %v, want %d items", data["queue"], n-1)
	}
}

func testManagerSizeLimit(t *testing.T, e *env) {
	e.m.MaxSize = 2048
	big := strings.Repeat("x", 3000)
	res := e.request(t, "", 200, false, set("big", big))
	if !errors.Is(res.err, session.ErrTooLarge) || !strings.Contains(res.err.Error(), "2048") {
		t.Errorf("Commit of a new session over the limit: %v, want ErrTooLarge naming 2048", res.err)
	}
	if res.cookie != nil || e.writes() > 0 {
		t.Errorf("a refused Commit set cookie %v, made %d writes", res.cookie, e.writes())
	}
	e.do(t, 200, set("small", "ok"))
	before := e.writes()
	res = e.request(t, e.cookie, 200, false, set("big", big))
	if !errors.Is(res.err, session.ErrTooLarge) {
		t.Errorf("Commit of a stored session over the limit: %v, want ErrTooLarge", res.err)
	}
	if w := e.writes(); w != before {
		t.Errorf("a refused Commit made %d writes", w-before)
	}
	if data, _ := e.load(t, e.cookie); !cmp.Equal(data, map[string]any{"small": "ok"}) {
		t.Errorf("session after the refused Commit = %v, want small=ok only", data)
	}
}
