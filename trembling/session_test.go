package trembling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/session"
)

// storeCases are the stores every end-to-end test of sessions runs on;
// uri gives the MongoDB a case needs.
var storeCases = []struct {
	store string
	uri   func(t testing.TB) string
}{
	{trembling.StoreMongo, engineURI},
	{trembling.StoreMemory, func(testing.TB) string { return "" }},
	{trembling.StoreCookie, func(testing.TB) string { return "" }},
}

func storeConfig(t testing.TB, store string) trembling.Config {
	cfg := trembling.Config{Store: store}
	if store == trembling.StoreCookie {
		cfg.KeyDir = t.TempDir()
	}
	return cfg
}

func TestCounterEveryStore(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			if got := s.tr.StoreName(s.w); got != tc.store {
				t.Fatalf("StoreName = %q, want %q", got, tc.store)
			}
			alice, bob := newClient(t, s), newClient(t, s)
			for i, want := range []string{"count=1", "count=2", "count=3"} {
				r := get(t, alice, s, "/counter.html")
				if r.code != 200 || r.body != want {
					t.Fatalf("alice request %d: got %v, want 200 %q", i+1, r, want)
				}
			}
			if r := get(t, bob, s, "/counter.html"); r.body != "count=1" {
				t.Errorf("bob shares alice's session: got %v, want count=1", r)
			}
			if r := get(t, alice, s, "/read.html"); r.body != "count=3" {
				t.Errorf("alice read: got %v, want count=3", r)
			}
		})
	}
}

func TestCounterSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	e1 := enginetest.Engine(t, dir)
	s1 := startSite(t, siteOptions{uri: e1.URI(), cfg: trembling.Config{Store: trembling.StoreMongo}})
	c := newClient(t, s1)
	for _, want := range []string{"count=1", "count=2"} {
		if r := get(t, c, s1, "/counter.html"); r.body != want {
			t.Fatalf("before restart: got %v, want %q", r, want)
		}
	}
	s1.stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	e2 := enginetest.Engine(t, dir)
	s2 := startSite(t, siteOptions{uri: e2.URI(), cfg: trembling.Config{Store: trembling.StoreMongo}})
	if r := get(t, c, s2, "/counter.html"); r.body != "count=3" {
		t.Fatalf("after restart: got %v, want count=3", r)
	}
}

func TestCookieStoreKeyFile(t *testing.T) {
	t.Parallel()
	keyDir := filepath.Join(t.TempDir(), "keys")
	cfg := trembling.Config{Store: trembling.StoreCookie, KeyDir: keyDir}
	s1 := startSite(t, siteOptions{cfg: cfg})
	c := newClient(t, s1)
	if r := get(t, c, s1, "/counter.html"); r.body != "count=1" {
		t.Fatalf("got %v", r)
	}
	fi, err := os.Stat(filepath.Join(keyDir, trembling.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Errorf("key file: mode %v, %d bytes; want 0600, 32 bytes", fi.Mode().Perm(), fi.Size())
	}
	s1.stop()

	// A restart with the same key file still opens the cookie.
	s2 := startSite(t, siteOptions{cfg: cfg})
	if r := get(t, c, s2, "/counter.html"); r.body != "count=2" {
		t.Fatalf("after restart: got %v, want count=2", r)
	}
	s2.stop()

	// Another key (a lost key file) opens nothing: a fresh session.
	s3 := startSite(t, siteOptions{cfg: trembling.Config{Store: trembling.StoreCookie, KeyDir: t.TempDir()}})
	if r := get(t, c, s3, "/counter.html"); r.body != "count=1" {
		t.Fatalf("with another key: got %v, want count=1", r)
	}
}

func TestCookieStoreKeyErrors(t *testing.T) {
	t.Parallel()
	readable := t.TempDir()
	if err := os.WriteFile(filepath.Join(readable, trembling.KeyFileName), make([]byte, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	short := t.TempDir()
	if err := os.WriteFile(filepath.Join(short, trembling.KeyFileName), make([]byte, 8), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  trembling.Config
		want string
	}{
		{"no keys", trembling.Config{Store: trembling.StoreCookie}, "needs keys"},
		{"readable by others", trembling.Config{Store: trembling.StoreCookie, KeyDir: readable}, "chmod 600"},
		{"short", trembling.Config{Store: trembling.StoreCookie, KeyDir: short}, "fewer than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := startErr(t, filepath.Join("testdata", "storeattr"), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// startErr returns the error of starting the site at root, without its
// hooks.conf, with cfg.
func startErr(t *testing.T, root string, cfg trembling.Config) error {
	t.Helper()
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, cfg); err != nil {
		return err
	}
	w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, HooksFile: os.DevNull, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	defer w.Shutdown(ctx)
	return w.Start(ctx)
}

func TestCookieSecretsRotate(t *testing.T) {
	t.Parallel()
	old := []byte(strings.Repeat("o", 32))
	next := []byte(strings.Repeat("n", 32))
	s1 := startSite(t, siteOptions{cfg: trembling.Config{Store: trembling.StoreCookie, CookieSecrets: [][]byte{old}}})
	c := newClient(t, s1)
	get(t, c, s1, "/counter.html")
	s1.stop()
	s2 := startSite(t, siteOptions{cfg: trembling.Config{Store: trembling.StoreCookie, CookieSecrets: [][]byte{next, old}}})
	if r := get(t, c, s2, "/counter.html"); r.body != "count=2" {
		t.Fatalf("after rotation: got %v, want count=2", r)
	}
}

// TestCookieFlags checks the session cookie's attributes, and that it is
// Secure and named __Host-session_key unless the request is plain HTTP to
// a loopback host (or InsecureCookies), and that the next request finds
// the session under that name.
func TestCookieFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tls        bool
		host       string // the request's Host; "" means the server's 127.0.0.1:port
		cfg        trembling.Config
		wantSecure bool
		wantName   string
	}{
		{name: "http loopback", wantName: "session_key"},
		{name: "http localhost", host: "localhost", wantName: "session_key"},
		{name: "http loopback with SecureCookies", cfg: trembling.Config{SecureCookies: true}, wantSecure: true, wantName: "__Host-session_key"},
		{name: "https", tls: true, wantSecure: true, wantName: "__Host-session_key"},
		{name: "http behind a proxy", host: "www.example.test", wantSecure: true, wantName: "__Host-session_key"},
		{name: "http with InsecureCookies", host: "www.example.test", cfg: trembling.Config{InsecureCookies: true}, wantName: "session_key"},
		{name: "CookieName", host: "www.example.test", cfg: trembling.Config{CookieName: "sid"}, wantSecure: true, wantName: "__Host-sid"},
		{name: "CookieName on loopback", cfg: trembling.Config{CookieName: "sid"}, wantName: "sid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSite(t, siteOptions{tls: tt.tls, cfg: tt.cfg})
			c := s.srv.Client()
			get := func(cookie *http.Cookie) *http.Response {
				req, err := http.NewRequest("GET", s.srv.URL+"/counter.html", nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.host != "" {
					req.Host = tt.host
				}
				if cookie != nil {
					req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				}
				resp, err := c.Transport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				resp.Header.Set("X-Body", strings.TrimSpace(string(b)))
				return resp
			}
			resp := get(nil)
			var ck *http.Cookie
			for _, c := range resp.Cookies() {
				if base := tt.cfg.CookieName; c.Name == base || c.Name == "__Host-"+base || base == "" && strings.HasSuffix(c.Name, "session_key") {
					ck = c
				}
			}
			if ck == nil {
				t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
			}
			got := map[string]any{
				"Name": ck.Name, "HttpOnly": ck.HttpOnly, "SameSite": ck.SameSite, "Path": ck.Path, "Domain": ck.Domain,
				"Secure": ck.Secure, "Vary": resp.Header.Get("Vary"), "Cache-Control": resp.Header.Get("Cache-Control"),
				"token": len(ck.Value),
			}
			want := map[string]any{
				"Name": tt.wantName, "HttpOnly": true, "SameSite": http.SameSiteLaxMode, "Path": "/", "Domain": "",
				"Secure": tt.wantSecure, "Vary": "Cookie", "Cache-Control": "private",
				"token": 43,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cookie (-want +got):\n%s", diff)
			}
			if body := get(ck).Header.Get("X-Body"); body != "count=2" {
				t.Errorf("next request with %s: %q, want count=2", ck.Name, body)
			}
		})
	}
}

func TestForgedCookieGetsFreshSession(t *testing.T) {
	t.Parallel()
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	forged := map[string]string{
		"random token": tok.String(),
		"garbage":      "garbage-not-a-token",
		"empty":        "",
	}
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			for name, value := range forged {
				req, err := http.NewRequest("GET", s.srv.URL+"/counter.html", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.AddCookie(&http.Cookie{Name: "session_key", Value: value})
				resp, err := s.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				ck := sessionCookie(resp.Header)
				if resp.StatusCode != 200 || ck == nil || ck.Value == value || ck.MaxAge <= 0 {
					t.Fatalf("%s: status %d, cookie %v; want 200 and a new session", name, resp.StatusCode, ck)
				}
				// The forged value stays unknown.
				req.Header.Del("Cookie")
				req.AddCookie(&http.Cookie{Name: "session_key", Value: value})
				resp, err = s.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if ck2 := sessionCookie(resp.Header); ck2 == nil || ck2.Value == value || ck2.Value == ck.Value {
					t.Fatalf("%s: second use got cookie %v", name, ck2)
				}
			}
		})
	}
}

func TestAnonymousPageWritesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases[:2] { // the stores that can count
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			for _, path := range []string{"/anon.html", "/peek.html", "/nope.html", "/anon.html"} {
				r := get(t, c, s, path)
				if len(r.header.Values("Set-Cookie")) != 0 || r.header.Get("Vary") != "" {
					t.Errorf("%s: Set-Cookie %q, Vary %q; want none", path, r.header.Values("Set-Cookie"), r.header.Get("Vary"))
				}
			}
			if r := get(t, c, s, "/peek.html"); r.body != "seen=false" {
				t.Errorf("peek: %v", r)
			}
			if n := s.count(); n != 0 {
				t.Errorf("store holds %d records after anonymous pages, want 0", n)
			}
			get(t, c, s, "/counter.html")
			if n := s.count(); n != 1 {
				t.Errorf("store holds %d records after one counter, want 1", n)
			}
			// With a session, even a page that neither reads nor changes
			// it is private: it may show what the session holds.
			r := get(t, c, s, "/anon.html")
			if len(r.header.Values("Set-Cookie")) != 0 || r.header.Get("Vary") != "Cookie" || r.header.Get("Cache-Control") != "private" {
				t.Errorf("anon page with a session: Set-Cookie %q, Vary %q, Cache-Control %q; want none, Cookie, private",
					r.header.Values("Set-Cookie"), r.header.Get("Vary"), r.header.Get("Cache-Control"))
			}
		})
	}
}

// dump returns the session and messages that /dump.json shows.
func dump(t *testing.T, c *http.Client, s *testSite) (sess map[string]any, msgs [][]string) {
	t.Helper()
	r := get(t, c, s, "/dump.json")
	if r.code != 200 {
		t.Fatalf("dump: %v", r)
	}
	var v struct {
		Session  map[string]any
		Messages [][]string
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("dump: %v in %s", err, r.body)
	}
	return v.Session, v.Messages
}

func TestNestedChangeSaved(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			for _, item := range []string{"a", "b", "c"} {
				get(t, c, s, "/cart.html?item="+item)
			}
			got, _ := dump(t, c, s)
			want := map[string]any{"cart": []any{"a", "b", "c"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoSaveOn5xx(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			get(t, c, s, "/counter.html")
			for _, how := range []string{"abort", "error"} {
				r := get(t, c, s, "/crash.html?how="+how)
				if r.code != 500 || len(r.header.Values("Set-Cookie")) != 0 {
					t.Fatalf("crash %s: %v, Set-Cookie %q; want 500 and no cookie", how, r, r.header.Values("Set-Cookie"))
				}
			}
			got, _ := dump(t, c, s)
			if diff := cmp.Diff(map[string]any{"count": 1.0}, got); diff != "" {
				t.Errorf("session after 5xx (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValuesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind string
		want string // in the logged error
	}{
		{"set", `"bad_set": a set cannot be kept`},
		{"tuple", `"bad_tuple": a tuple cannot be kept`},
		{"bytes", `"bad_bytes": a bytes cannot be kept`},
		{"big", `"bad_big": int 1180591620717411303424 does not fit in 64 bits`},
		{"func", `"bad_func": a builtin_function_or_method cannot be kept`},
		{"nan", `"bad_nan": float nan cannot be kept`},
		{"dictkey", `"bad_dictkey"["ok"]: dict key 1 is a int`},
		{"deep", `"bad_deep"["a"][1][1]: a set cannot be kept`},
		{"intkey", `request.session: keys must be str, not int`},
		{"reserved", `the key "_messages" is reserved for messages`},
		{"update", `"bad_update": a set cannot be kept`},
		{"setdefault", `"bad_setdefault": a tuple cannot be kept`},
	}
	s := startSite(t, siteOptions{})
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			c := newClient(t, s)
			r := get(t, c, s, "/badvalue.html?kind="+tt.kind)
			if r.code != 500 || len(r.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("got %v, Set-Cookie %q; want 500, no cookie", r, r.header.Values("Set-Cookie"))
			}
			if !s.logged(tt.want) {
				t.Errorf("log lacks %q:\n%s", tt.want, s.log.String())
			}
		})
	}

	t.Run("nested change found at outbound", func(t *testing.T) {
		c := newClient(t, s)
		r := get(t, c, s, "/nestedbad.html")
		if r.code != 500 || len(r.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("got %v, Set-Cookie %q; want 500, no cookie", r, r.header.Values("Set-Cookie"))
		}
		want := `trembling: saving the session: session: "later"["items"][0]: a builtin_function_or_method cannot be kept`
		if !s.logged(want) {
			t.Errorf("log lacks %q:\n%s", want, s.log.String())
		}
		if n := s.count(); n != 0 {
			t.Errorf("store holds %d records, want 0", n)
		}
	})
}

func TestSessionBehavesLikeADict(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{})
	c := newClient(t, s)
	get(t, c, s, "/seed.html") // a waiting message, which the dict must hide
	r := get(t, c, s, "/dictops.json")
	if r.code != 200 {
		t.Fatalf("dictops: %v\n%s", r, s.log.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	e := []any{map[string]any{"x": []any{true, false}}}
	want := map[string]any{
		"get":        []any{1.0, nil, 9.0, 2.5},
		"setdefault": []any{1.0, e},
		"pop":        []any{nil, "dflt"},
		"in":         []any{true, false, false, false},
		"len":        4.0,
		"keys":       []any{"a", "b", "c", "e"},
		"values":     []any{1.0, 2.5, "three", e},
		"items":      []any{[]any{"a", 1.0}, []any{"b", 2.5}, []any{"c", "three"}, []any{"e", e}},
		"iter":       []any{"a", "b", "c", "e"},
		"dict":       map[string]any{"a": 1.0, "b": 2.5, "c": "three", "e": e},
		"truth":      []any{true, "session"},
		"str":        `{"a": 1, "b": 2.5, "c": "three", "e": [{"x": [True, False]}]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dict operations (-want +got):\n%s", diff)
	}
	// What the page left is saved, int as int and float as float.
	sess, _ := dump(t, c, s)
	if diff := cmp.Diff(want["dict"], any(sess)); diff != "" {
		t.Errorf("saved session (-want +got):\n%s", diff)
	}
	data := mustSessionData(t, s, c)
	if _, ok := data["a"].(int64); !ok {
		t.Errorf("a = %T, want int64", data["a"])
	}
	if _, ok := data["b"].(float64); !ok {
		t.Errorf("b = %T, want float64", data["b"])
	}
}

// mustSessionData loads the session c holds through the site's Manager.
func mustSessionData(t *testing.T, s *testSite, c *http.Client) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", s.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "session_key", Value: jarValue(t, c, s)})
	sess, err := s.tr.Manager(s.w).Load(t.Context(), req)
	if err != nil || sess.IsNew() {
		t.Fatalf("Load: new %v, %v", sess != nil && sess.IsNew(), err)
	}
	return sess.Data()
}

func TestSessionNeedsTheHook(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{root: filepath.Join("testdata", "nohook")})
	c := newClient(t, s)
	tests := []struct{ path, want string }{
		{"/session.html", "request.session needs the hook trembling.session:inbound in hooks.conf"},
		{"/messages.html", "request.messages needs the hook trembling.session:inbound in hooks.conf"},
		{"/message.html", "add_message needs the hook trembling.session:inbound in hooks.conf"},
	}
	for _, tt := range tests {
		if r := get(t, c, s, tt.path); r.code != 500 {
			t.Errorf("%s: got %v, want 500", tt.path, r)
		}
		if !s.logged(tt.want) {
			t.Errorf("%s: log lacks %q:\n%s", tt.path, tt.want, s.log.String())
		}
	}
}

func TestHookInWrongPhaseRefused(t *testing.T) {
	t.Parallel()
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{}); err != nil {
		t.Fatal(err)
	}
	_, err := aspengo.New(aspengo.Config{Root: filepath.Join("testdata", "misplaced"), Registry: reg})
	if err == nil {
		t.Fatal("New accepted trembling.session:outbound in inbound_early")
	}
	conf := filepath.Join("testdata", "misplaced", ".aspen", "hooks.conf")
	for _, want := range []string{
		conf + ":5: trembling.session:outbound cannot run in inbound_early (it serves outbound_early, outbound_late)",
		conf + ":15: trembling.session:inbound cannot run in outbound_late (it serves inbound_early, inbound_late)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  trembling.Config
		want string
	}{
		{"unknown store", trembling.Config{Store: "redis"}, `unknown session store "redis"`},
		{"short secret", trembling.Config{CookieSecrets: [][]byte{[]byte("short")}}, "fewer than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trembling.Register(aspengo.NewRegistry(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register error = %v, want %q", err, tt.want)
			}
		})
	}
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := trembling.Register(reg, trembling.Config{}); err == nil {
		t.Error("registering twice in one registry succeeded")
	}
}

func TestStoreChoice(t *testing.T) {
	t.Parallel()
	// website.session_store wins over Config.Store: the cookie store
	// would fail without keys.
	s := startSite(t, siteOptions{root: filepath.Join("testdata", "storeattr"), cfg: trembling.Config{Store: trembling.StoreCookie}})
	if got := s.tr.StoreName(s.w); got != trembling.StoreMemory {
		t.Errorf("StoreName = %q, want memory", got)
	}
	if r := get(t, newClient(t, s), s, "/counter.html"); r.body != "count=1" {
		t.Errorf("counter: %v", r)
	}

	// The mongo store needs website.db.
	err := startErr(t, filepath.Join("testdata", "nohook"), trembling.Config{Store: trembling.StoreMongo})
	if err == nil || !strings.Contains(err.Error(), "the mongo session store needs website.db") {
		t.Errorf("Start error = %v, want one about website.db", err)
	}
}

func TestGoSessionAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases[:2] { // server-side stores: the old token dies
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			get(t, c, s, "/counter.html")
			before := jarValue(t, c, s)
			if r := get(t, c, s, "/gologin.html"); r.code != 200 {
				t.Fatalf("gologin: %v\n%s", r, s.log.String())
			}
			after := jarValue(t, c, s)
			if after == before || after == "" {
				t.Fatalf("token not renewed: %q then %q", before, after)
			}
			got, _ := dump(t, c, s)
			want := map[string]any{
				"count":     1.0,
				"go_saw":    "int64:1:true",
				"user":      map[string]any{"name": "alice", "id": 7.0},
				"seen_user": "alice",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session after login (-want +got):\n%s", diff)
			}

			// The old token was deleted from the store.
			old := newClient(t, s)
			req, _ := http.NewRequest("GET", s.srv.URL+"/dump.json", nil)
			req.AddCookie(&http.Cookie{Name: "session_key", Value: before})
			resp, err := old.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Session map[string]any }
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if len(v.Session) != 0 {
				t.Errorf("old token still opens %v", v.Session)
			}

			// Logout from Go, then a message: the data is gone, the
			// message waits for the next page.
			r := get(t, c, s, "/gologout")
			if r.code != 302 {
				t.Fatalf("gologout: %v\n%s", r, s.log.String())
			}
			sess, msgs := dump(t, c, s)
			if len(sess) != 0 || !cmp.Equal(msgs, [][]string{{"info", "bye"}}) {
				t.Errorf("after logout: session %v, messages %v", sess, msgs)
			}
			if jarValue(t, c, s) == after {
				t.Error("logout kept the session token")
			}
		})
	}
}

func TestSessionOfWithoutHook(t *testing.T) {
	t.Parallel()
	// A request that no hook loaded a session for.
	var got error
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory}); err != nil {
		t.Fatal(err)
	}
	reg.Hook("probe:inbound", aspengo.Hook{Inbound: func(r *aspengo.Request) error {
		_, got = trembling.SessionOf(r)
		return nil
	}})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".aspen"), 0o755)
	os.WriteFile(filepath.Join(dir, ".aspen", "hooks.conf"), []byte("\f probe:inbound\n"), 0o644)
	w, err := aspengo.New(aspengo.Config{Root: dir, Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(ctx)
	w.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got != trembling.ErrNoSession {
		t.Errorf("SessionOf = %v, want ErrNoSession", got)
	}
}
