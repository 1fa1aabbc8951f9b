package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func TestManagerMemstore(t *testing.T) {
	sessiontest.TestManager(t, func(t *testing.T) *session.Manager {
		return &session.Manager{Store: memstore.New()}
	})
}

func commitNew(t *testing.T, m *session.Manager, h http.Header, tlsOn bool) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	s, err := m.Load(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("x", int64(1)); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(t.Context(), h, s, 200); err != nil {
		t.Fatal(err)
	}
}

func TestCookieSettings(t *testing.T) {
	m := &session.Manager{
		Store:  memstore.New(),
		Cookie: session.Cookie{Name: "sid", Path: "/app", Domain: "example.com", SameSite: http.SameSiteStrictMode, SessionOnly: true},
	}
	h := http.Header{}
	commitNew(t, m, h, false)
	c, err := http.ParseSetCookie(h.Get("Set-Cookie"))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %s %s %v %v %v %v", c.Name, c.Path, c.Domain, c.SameSite, c.HttpOnly, c.MaxAge, c.Expires.IsZero())
	if want := fmt.Sprintf("sid /app example.com %v true 0 true", http.SameSiteStrictMode); got != want {
		t.Errorf("cookie %q: got %s, want %s", h.Get("Set-Cookie"), got, want)
	}
}

func TestCacheHeaders(t *testing.T) {
	for _, tc := range []struct {
		cache, vary         []string
		wantCache, wantVary string
	}{
		{nil, nil, "private", "Cookie"},
		{[]string{"public, max-age=60"}, nil, "private, max-age=60", "Cookie"},
		{[]string{"no-store"}, []string{"Accept-Encoding"}, "no-store", "Accept-Encoding, Cookie"},
		{[]string{"private, no-cache"}, []string{"cookie"}, "private, no-cache", "cookie"},
		{[]string{"max-age=0", "must-revalidate"}, []string{"*"}, "private, max-age=0, must-revalidate", "*"},
	} {
		h := http.Header{"Cache-Control": tc.cache, "Vary": tc.vary}
		m := &session.Manager{Store: memstore.New()}
		commitNew(t, m, h, false)
		if got := strings.Join(h.Values("Cache-Control"), ", "); got != tc.wantCache {
			t.Errorf("Cache-Control %q: got %q, want %q", tc.cache, got, tc.wantCache)
		}
		if got := strings.Join(h.Values("Vary"), ", "); got != tc.wantVary {
			t.Errorf("Vary %q: got %q, want %q", tc.vary, got, tc.wantVary)
		}
	}
}

// TestCommitReplacesCookie checks that a second Commit does not add a
// second session cookie and that other cookies stay.
func TestCommitReplacesCookie(t *testing.T) {
	m := &session.Manager{Store: memstore.New()}
	r := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
	s, err := m.Load(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Set-Cookie": {"theme=dark; Path=/"}}
	s.Set("x", int64(1))
	if err := m.Commit(t.Context(), h, s, 200); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(t.Context(), h, s, 200); err != nil {
		t.Fatal(err)
	}
	lines := h.Values("Set-Cookie")
	if len(lines) != 2 || lines[0] != "theme=dark; Path=/" || !strings.HasPrefix(lines[1], "session_key=;") {
		t.Errorf("Set-Cookie = %q, want the theme cookie and one expired session cookie", lines)
	}
}

func TestNoBackend(t *testing.T) {
	if _, err := (&session.Manager{}).Load(t.Context(), httptest.NewRequest("GET", "/", nil)); err == nil {
		t.Errorf("Load without a Store or Codec: nil error")
	}
}

// failingStore fails every call.
type failingStore struct{ session.Store }

var errDown = errors.New("store down")

func (failingStore) Find(context.Context, string) (session.Record, bool, error) {
	return session.Record{}, false, errDown
}

func (failingStore) Create(context.Context, string, session.Record) error { return errDown }

func TestStoreErrors(t *testing.T) {
	m := &session.Manager{Store: failingStore{}}
	tok, _ := session.NewToken()
	r := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
	r.AddCookie(&http.Cookie{Name: "session_key", Value: tok.String()})
	if _, err := m.Load(t.Context(), r); !errors.Is(err, errDown) {
		t.Errorf("Load with a failing store: %v, want it wrapped", err)
	}
	// A malformed cookie never reaches the store.
	r = httptest.NewRequest("GET", "http://127.0.0.1/", nil)
	r.AddCookie(&http.Cookie{Name: "session_key", Value: "nope"})
	s, err := m.Load(t.Context(), r)
	if err != nil {
		t.Fatalf("Load with a malformed cookie reached the store: %v", err)
	}
	s.Set("x", int64(1))
	h := http.Header{}
	if err := m.Commit(t.Context(), h, s, 200); !errors.Is(err, errDown) {
		t.Errorf("Commit with a failing store: %v, want it wrapped", err)
	}
	if len(h) != 0 {
		t.Errorf("a failed Commit set headers %v", h)
	}
}

func TestMarkNoStore(t *testing.T) {
	for _, tc := range []struct {
		cache []string
		want  string
	}{
		{nil, "no-store"},
		{[]string{"private"}, "no-store"},
		{[]string{"public, max-age=60, must-revalidate"}, "no-store, must-revalidate"},
		{[]string{"no-store", "no-cache"}, "no-store, no-cache"},
	} {
		h := http.Header{"Cache-Control": tc.cache}
		session.MarkNoStore(h)
		if got := strings.Join(h.Values("Cache-Control"), ", "); got != tc.want {
			t.Errorf("Cache-Control %q: got %q, want %q", tc.cache, got, tc.want)
		}
		if got := h.Get("Vary"); got != "Cookie" {
			t.Errorf("Cache-Control %q: Vary %q, want Cookie", tc.cache, got)
		}
	}
}
