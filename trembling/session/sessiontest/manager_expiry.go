package sessiontest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

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
