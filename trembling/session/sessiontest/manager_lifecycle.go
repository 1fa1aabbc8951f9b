package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

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
