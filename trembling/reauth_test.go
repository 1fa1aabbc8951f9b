package trembling_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
)

// accountPages are the pages the re-authentication and session tests
// add to testdata/authsite, with eventsHook as its startup module.
var accountPages = map[string]string{
	".aspen/database.star": eventsHook,
	"reauth.json.spt": `reauth_required(request, int(request.qs.one("max_age", "300")))
response.body = {"user": request.user.username}
`,
	"changepw.json.spt": `request.allow("POST")
problem = change_password(request, request.body.one("current"), request.body.one("new"))
response.body = {"problem": problem, "user": request.user.username if request.user else None}
`,
	"sessions.json.spt": `sessions = user_sessions(request)
response.body = {"sessions": [
    {"id": s["id"], "client": s["client"], "address": s["address"], "current": s["current"],
     "created": s["created"].unix, "last_used": s["last_used"].unix}
    for s in sessions]}
`,
	"endsession.json.spt": `request.allow("POST")
response.body = {"ended": end_session(request, request.body.one("id"))}
`,
	"endothers.json.spt": `request.allow("POST")
response.body = {"ended": end_other_sessions(request)}
`,
}

// startAccountSite starts testdata/authsite with accountPages, on the
// session store named store.
func startAccountSite(t *testing.T, store string) *authSite {
	t.Helper()
	root := copySite(t, accountPages)
	return startAuthSite(t, func(o *siteOptions) {
		o.root = root
		o.cfg.Store = store
		if store == trembling.StoreCookie {
			o.cfg.CookieSecrets = [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
		}
	})
}

// TestReauthRequired: reauth_required lets through a login made at most
// max_age seconds ago; it sends an older login to the login page with
// next and reauth=1, and an anonymous visitor with next alone; a new
// login lets the user through again.
func TestReauthRequired(t *testing.T) {
	t.Parallel()
	s := startAccountSite(t, trembling.StoreMongo)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	const loginNext = "/account/login.html?next=%2Freauth.json"
	steps := []struct {
		name     string
		before   func()
		code     int
		location string
	}{
		{"anonymous", nil, http.StatusFound, loginNext},
		{"just logged in", func() { mustLogin(t, c, s, "alice", "secret-password") }, 200, ""},
		{"at max_age", func() { s.clk.Add(300 * time.Second) }, 200, ""},
		{"past max_age", func() { s.clk.Add(time.Second) }, http.StatusFound, loginNext + "&reauth=1"},
		{"still past it", func() { s.clk.Add(time.Minute) }, http.StatusFound, loginNext + "&reauth=1"},
		{"after logging in again", func() { mustLogin(t, c, s, "alice", "secret-password") }, 200, ""},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		r := get(t, c, s.testSite, "/reauth.json")
		if r.code != st.code || r.header.Get("Location") != st.location {
			t.Fatalf("%s: %v Location %q; want %d %q", st.name, r, r.header.Get("Location"), st.code, st.location)
		}
		if st.code == 200 && decode(t, r)["user"] != "alice" {
			t.Errorf("%s: %v", st.name, r)
		}
	}
	// The old login is still a login: pages that do not ask for a
	// recent one are served.
	s.clk.Add(10 * time.Minute)
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("after reauth_required sent the user away: %q", got)
	}
	if r := get(t, c, s.testSite, "/reauth.json?max_age=-1"); r.code != http.StatusInternalServerError {
		t.Errorf("a negative max_age: %v, want 500", r)
	}
}

// changePassword posts the change-password form of accountPages and
// returns its problem, nil on success.
func changePassword(t *testing.T, c *http.Client, s *authSite, current, next string) any {
	t.Helper()
	r := post(t, c, s.testSite, "/changepw.json", url.Values{"current": {current}, "new": {next}})
	if r.code != 200 {
		t.Fatalf("change_password: %v", r)
	}
	return decode(t, r)["problem"]
}

// TestChangePassword: change_password refuses a new password the policy
// refuses and a wrong current one, each with a sentence for the form;
// then it changes the password, keeps the changer logged in under a new
// key, ends the user's other sessions, clears must_change_password and
// sends the account event.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	for _, store := range []string{trembling.StoreMongo, trembling.StoreMemory, trembling.StoreCookie} {
		t.Run(store, func(t *testing.T) {
			s := startAccountSite(t, store)
			s.createUser(t, "alice", "old-secret-password")
			ctx := t.Context()
			if err := s.users.SetTemporaryPassword(ctx, "alice", "old-secret-password"); err != nil {
				t.Fatal(err)
			}
			a, b := newClient(t, s.testSite), newClient(t, s.testSite)
			mustLogin(t, a, s, "alice", "old-secret-password")
			mustLogin(t, b, s, "alice", "old-secret-password")
			for _, tc := range []struct {
				name, current, next string
				want                any
			}{
				{"too short", "old-secret-password", "short", auth.PasswordProblem("short")},
				{"common", "old-secret-password", "1qaz2wsx3edc", auth.PasswordProblem("1qaz2wsx3edc")},
				{"unchanged", "old-secret-password", "old-secret-password", trembling.PasswordUnchanged},
				{"wrong current", "guess", "new-secret-password", trembling.PasswordWrongCurrent},
				{"no current", "", "new-secret-password", trembling.PasswordWrongCurrent},
			} {
				if got := changePassword(t, a, s, tc.current, tc.next); got != tc.want {
					t.Errorf("%s: %v, want %q", tc.name, got, tc.want)
				}
			}
			if u := s.user(t, "alice"); !u.MustChangePassword {
				t.Fatal("refused changes cleared must_change_password")
			}
			before := jarValue(t, a, s.testSite)
			if got := changePassword(t, a, s, "old-secret-password", "new-secret-password"); got != nil {
				t.Fatalf("the change: %v, want None", got)
			}
			if got := whoami(t, a, s); got != loggedInAs("alice") {
				t.Errorf("the changer: %q", got)
			}
			if jarValue(t, a, s.testSite) == before {
				t.Error("the changer's session key did not change")
			}
			if got := whoami(t, b, s); got != anonymous {
				t.Errorf("the other browser: %q", got)
			}
			if got := whoami(t, clientWithCookie(t, s.testSite, before), s); got != anonymous {
				t.Errorf("the changer's old cookie: %q", got)
			}
			if r := login(t, newClient(t, s.testSite), s, "alice", "old-secret-password", ""); r.code != 200 {
				t.Errorf("login with the old password: %v", r)
			}
			mustLogin(t, newClient(t, s.testSite), s, "alice", "new-secret-password")
			if u := s.user(t, "alice"); u.MustChangePassword {
				t.Error("must_change_password is still set")
			}
			if want := "account event password_changed user=alice extra=client"; !s.logged(want) {
				t.Errorf("log lacks %q:\n%s", want, s.log.String())
			}
		})
	}
}

// TestChangePasswordThrottled: a wrong current password counts as a
// failed login: after DefaultMaxFailures of them even the right one is
// refused, and so is a login from that browser, until the window passes.
func TestChangePasswordThrottled(t *testing.T) {
	t.Parallel()
	s := startAccountSite(t, trembling.StoreMongo)
	s.createUser(t, "alice", "old-secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "old-secret-password")
	var got []any
	for range auth.DefaultMaxFailures + 1 {
		got = append(got, changePassword(t, c, s, "guess", "new-secret-password"))
	}
	got = append(got, changePassword(t, c, s, "old-secret-password", "new-secret-password"))
	var want []any
	for range auth.DefaultMaxFailures {
		want = append(want, trembling.PasswordWrongCurrent)
	}
	want = append(want, trembling.PasswordThrottled, trembling.PasswordThrottled)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("answers (-want +got):\n%s", d)
	}
	if r := login(t, c, s, "alice", "old-secret-password", ""); !strings.Contains(r.body, "Too many attempts") {
		t.Errorf("a login from the browser whose changes failed: %v", r)
	}
	s.clk.Add(auth.DefaultWindow + time.Second)
	if got := changePassword(t, c, s, "old-secret-password", "new-secret-password"); got != nil {
		t.Errorf("after the window: %v", got)
	}
}

// TestChangePasswordBusy: with every password-check slot taken,
// change_password answers 503 with Retry-After, as login does.
func TestChangePasswordBusy(t *testing.T) {
	t.Parallel()
	startup := eventsHook + "    website.max_password_checks = 1\n    website.password_check_wait = 0.01\n"
	pages := maps.Clone(accountPages)
	pages[".aspen/database.star"] = startup
	root := copySite(t, pages)
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	s.createUser(t, "alice", "old-secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "old-secret-password")
	release, err := s.users.HashSlot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := post(t, c, s.testSite, "/changepw.json", url.Values{"current": {"old-secret-password"}, "new": {"new-secret-password"}})
	release()
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("with every slot taken: %v Retry-After %q; want 503 with Retry-After", r, r.header.Get("Retry-After"))
	}
	if got := changePassword(t, c, s, "old-secret-password", "new-secret-password"); got != nil {
		t.Errorf("once a slot is free: %v", got)
	}
}

// TestChangePasswordAnonymous: change_password without a login fails
// the request rather than change anything.
func TestChangePasswordAnonymous(t *testing.T) {
	t.Parallel()
	s := startAccountSite(t, trembling.StoreMemory)
	s.createUser(t, "alice", "old-secret-password")
	r := post(t, newClient(t, s.testSite), s.testSite, "/changepw.json", url.Values{"current": {"old-secret-password"}, "new": {"new-secret-password"}})
	if r.code != http.StatusInternalServerError {
		t.Errorf("anonymous change_password: %v, want 500", r)
	}
	mustLogin(t, newClient(t, s.testSite), s, "alice", "old-secret-password")
}
