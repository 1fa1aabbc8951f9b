package trembling_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling"
)

// listedSession is an entry of user_sessions, as sessions.json shows it.
type listedSession struct {
	ID      string
	Client  string
	Address string
	Current bool
}

// sessionsOf returns the sessions /sessions.json lists for c, failing
// the test unless it answers 200.
func sessionsOf(t *testing.T, c *http.Client, s *authSite) []listedSession {
	t.Helper()
	r := get(t, c, s.testSite, "/sessions.json")
	if r.code != 200 {
		t.Fatalf("sessions.json: %v %v", r, r.header.Get("Location"))
	}
	var out []listedSession
	for _, v := range decode(t, r)["sessions"].([]any) {
		m := v.(map[string]any)
		out = append(out, listedSession{ID: m["id"].(string), Client: m["client"].(string), Address: m["address"].(string), Current: m["current"].(bool)})
		if m["created"].(float64) > m["last_used"].(float64) {
			t.Errorf("session %v was last used before it was created", m)
		}
	}
	return out
}

// loginAs logs a new client in as username from a browser whose
// User-Agent is ua.
func loginAs(t *testing.T, s *authSite, username, password, ua string) *http.Client {
	t.Helper()
	c := newClient(t, s.testSite)
	r := doHeader(t, c, s.testSite, http.MethodPost, "/account/login.html",
		url.Values{"username": {username}, "password": {password}}, http.Header{"User-Agent": {ua}})
	if r.code != http.StatusFound {
		t.Fatalf("login as %s: %v", username, r)
	}
	return c
}

const (
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

// TestUserSessions: user_sessions lists the user's own sessions, with
// their browser, address and which one is the request's; end_session
// ends one of them, never another user's or the request's own, and
// the ended one's next request is anonymous.
func TestUserSessions(t *testing.T) {
	t.Parallel()
	for _, store := range []string{trembling.StoreMongo, trembling.StoreMemory} {
		t.Run(store, func(t *testing.T) {
			s := startAccountSite(t, store)
			s.createUser(t, "alice", "secret-password")
			s.createUser(t, "bob", "hunter2-hunter2")
			laptop := loginAs(t, s, "alice", "secret-password", firefoxLinux)
			s.clk.Add(time.Second)
			phone := loginAs(t, s, "alice", "secret-password", safariIPhone)
			s.clk.Add(time.Second)
			bob := loginAs(t, s, "bob", "hunter2-hunter2", chromeWindows)

			got := sessionsOf(t, laptop, s)
			want := []listedSession{
				{Client: "Safari on iOS", Address: "127.0.0.1"},
				{Client: "Firefox on Linux", Address: "127.0.0.1", Current: true},
			}
			if d := cmp.Diff(want, got, cmpIgnoreID); d != "" {
				t.Fatalf("alice's sessions from the laptop, newest first (-want +got):\n%s", d)
			}
			phoneID, laptopID := got[0].ID, got[1].ID
			for _, id := range []string{phoneID, laptopID} {
				if id == "" || strings.Contains(jarValue(t, phone, s.testSite), id) || strings.Contains(jarValue(t, laptop, s.testSite), id) {
					t.Errorf("session id %q is empty or part of a session cookie", id)
				}
			}
			bobs := sessionsOf(t, bob, s)
			if len(bobs) != 1 || !bobs[0].Current || bobs[0].Client != "Chrome on Windows" {
				t.Errorf("bob's sessions: %+v", bobs)
			}

			for _, tc := range []struct {
				name string
				c    *http.Client
				id   string
			}{
				{"bob ends alice's", bob, phoneID},
				{"alice ends her own current one", laptop, laptopID},
				{"an unknown id", laptop, "no-such-session"},
				{"no id", laptop, ""},
			} {
				r := post(t, tc.c, s.testSite, "/endsession.json", url.Values{"id": {tc.id}})
				if r.code != 200 || decode(t, r)["ended"] != false {
					t.Errorf("%s: %v, want ended false", tc.name, r)
				}
			}
			if got := whoami(t, phone, s); got != loggedInAs("alice") {
				t.Fatalf("the phone after refused ends: %q", got)
			}
			r := post(t, laptop, s.testSite, "/endsession.json", url.Values{"id": {phoneID}})
			if r.code != 200 || decode(t, r)["ended"] != true {
				t.Fatalf("alice ends her phone's session: %v", r)
			}
			if got := whoami(t, phone, s); got != anonymous {
				t.Errorf("the ended session's next request: %q", got)
			}
			if got := whoami(t, laptop, s); got != loggedInAs("alice") {
				t.Errorf("the laptop after ending the phone: %q", got)
			}
			if got := whoami(t, bob, s); got != loggedInAs("bob") {
				t.Errorf("bob after alice ended her phone: %q", got)
			}
			want = []listedSession{{Client: "Firefox on Linux", Address: "127.0.0.1", Current: true}}
			if d := cmp.Diff(want, sessionsOf(t, laptop, s), cmpIgnoreID); d != "" {
				t.Errorf("alice's sessions after ending one (-want +got):\n%s", d)
			}
			// A logout leaves the list too.
			tablet := loginAs(t, s, "alice", "secret-password", firefoxLinux)
			if n := len(sessionsOf(t, laptop, s)); n != 2 {
				t.Errorf("%d sessions after a login from the tablet, want 2", n)
			}
			if r := post(t, tablet, s.testSite, "/account/logout.html", url.Values{}); r.code != http.StatusFound {
				t.Fatalf("logout: %v", r)
			}
			if n := len(sessionsOf(t, laptop, s)); n != 1 {
				t.Errorf("%d sessions after the tablet logged out, want 1", n)
			}
		})
	}
}

var cmpIgnoreID = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ID" }, cmp.Ignore())

// TestUserSessionsNeedRecentLogin: user_sessions and end_session send a
// user whose login is older than 15 minutes to the login page, and an
// anonymous visitor too; max_age changes the limit.
func TestUserSessionsNeedRecentLogin(t *testing.T) {
	t.Parallel()
	s := startAccountSite(t, trembling.StoreMemory)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	if r := get(t, c, s.testSite, "/sessions.json"); r.code != http.StatusFound || r.header.Get("Location") != "/account/login.html?next=%2Fsessions.json" {
		t.Errorf("anonymous: %v %q", r, r.header.Get("Location"))
	}
	mustLogin(t, c, s, "alice", "secret-password")
	for _, step := range []struct {
		advance time.Duration
		code    int
	}{
		{0, 200},
		{trembling.DefaultReauthMaxAge, 200},
		{time.Second, http.StatusFound},
	} {
		s.clk.Add(step.advance)
		get(t, c, s.testSite, "/whoami.txt") // used, so that it does not go idle
		for _, tc := range []struct{ method, path string }{{"GET", "/sessions.json"}, {"POST", "/endsession.json"}, {"POST", "/endothers.json"}} {
			r := do(t, c, s.testSite, tc.method, tc.path, url.Values{"id": {"x"}})
			if r.code != step.code {
				t.Errorf("%s %s %v after the login: %v, want %d", tc.method, tc.path, step.advance, r, step.code)
			}
			if r.code == http.StatusFound && !strings.HasSuffix(r.header.Get("Location"), "&reauth=1") {
				t.Errorf("%s: Location %q, want reauth=1", tc.path, r.header.Get("Location"))
			}
		}
	}
}

// TestEndOtherSessions: end_other_sessions ends every other session of
// the user and keeps the request's own logged in; with the cookie store
// it does so through the session epoch, and user_sessions lists the
// request's own session alone.
func TestEndOtherSessions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		store string
		ended float64
	}{
		{trembling.StoreMongo, 2},
		{trembling.StoreMemory, 2},
		{trembling.StoreCookie, -1},
	} {
		t.Run(tc.store, func(t *testing.T) {
			s := startAccountSite(t, tc.store)
			s.createUser(t, "alice", "secret-password")
			s.createUser(t, "bob", "hunter2-hunter2")
			me := loginAs(t, s, "alice", "secret-password", firefoxLinux)
			others := []*http.Client{
				loginAs(t, s, "alice", "secret-password", safariIPhone),
				loginAs(t, s, "alice", "secret-password", chromeWindows),
			}
			bob := loginAs(t, s, "bob", "hunter2-hunter2", chromeWindows)
			if tc.store == trembling.StoreCookie {
				want := []listedSession{{Client: "Firefox on Linux", Address: "127.0.0.1", Current: true}}
				if d := cmp.Diff(want, sessionsOf(t, me, s)); d != "" {
					t.Errorf("the cookie store's list (-want +got):\n%s", d)
				}
			}
			r := post(t, me, s.testSite, "/endothers.json", url.Values{})
			if r.code != 200 || decode(t, r)["ended"] != tc.ended {
				t.Fatalf("end_other_sessions: %v, want %v", r, tc.ended)
			}
			for i, c := range others {
				if got := whoami(t, c, s); got != anonymous {
					t.Errorf("other session %d: %q", i, got)
				}
			}
			if got := whoami(t, me, s); got != loggedInAs("alice") {
				t.Errorf("the request's own session: %q", got)
			}
			if got := whoami(t, bob, s); got != loggedInAs("bob") {
				t.Errorf("bob's session: %q", got)
			}
		})
	}
}

// TestClientSummary: the client of a session, as user_sessions shows it.
func TestClientSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ua, want string }{
		{firefoxLinux, "Firefox on Linux"},
		{safariIPhone, "Safari on iOS"},
		{chromeWindows, "Chrome on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on macOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Headless Chrome on Linux"},
		{"curl/8.5.0", "curl"},
		{"", "Unknown browser"},
		{"Mozilla/5.0 (X11; Linux x86_64) SomethingElse", "A browser on Linux"},
	} {
		if got := trembling.ClientSummary(tc.ua); got != tc.want {
			t.Errorf("ClientSummary(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}
