package trembling_test

// The security suite of trembling's auth: each test drives the site in
// testdata/authsite (trembling's README hooks.conf, the mongo session
// store on an embedded engine) over HTTP with cookie jars, as browsers
// and attackers would, and checks one rule of the auth section of the
// package documentation.

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
)

// TestSessionFixation: the session key changes at login and the data is
// kept; the key from before the login (which an attacker may have planted
// in the victim's browser) is no longer valid: not logged in, not even the
// old anonymous session.
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	if r := get(t, c, s.testSite, "/cart.json?item=book"); r.code != 200 {
		t.Fatal(r)
	}
	before := jarValue(t, c, s.testSite)
	if before == "" {
		t.Fatal("no session cookie before the login")
	}
	r := login(t, c, s, "alice", "secret-password", "")
	if r.code != http.StatusFound {
		t.Fatalf("login: %v", r)
	}
	ck := sessionCookie(r.header)
	if ck == nil || ck.Value == "" || ck.Value == before {
		t.Fatalf("login set cookie %v; want a new session key (before: %q)", ck, before)
	}
	if after := jarValue(t, c, s.testSite); after != ck.Value {
		t.Fatalf("jar holds %q, want %q", after, ck.Value)
	}
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("after login: %q", got)
	}
	if r := get(t, c, s.testSite, "/cart.json"); decode(t, r)["cart"] != "book" {
		t.Errorf("the session's data was not kept across the login: %v", r)
	}

	attacker := clientWithCookie(t, s.testSite, before)
	if got := whoami(t, attacker, s); got != anonymous {
		t.Errorf("the pre-login cookie is logged in: %q", got)
	}
	if r := get(t, attacker, s.testSite, "/cart.json"); decode(t, r)["cart"] != nil {
		t.Errorf("the pre-login session still exists: %v", r)
	}
}

// TestLogoutInvalidatesServerSide: logout deletes the session in the
// store and expires the cookie; a copy of the cookie replayed afterwards
// is anonymous and finds none of the session's data.
func TestLogoutInvalidatesServerSide(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	get(t, c, s.testSite, "/cart.json?item=book")
	stolen := jarValue(t, c, s.testSite)

	r := post(t, c, s.testSite, "/account/logout.html", url.Values{})
	if r.code != http.StatusFound {
		t.Fatalf("logout: %v", r)
	}
	ck := sessionCookie(r.header)
	if ck == nil || ck.Value == stolen {
		t.Errorf("logout set cookie %v: want the old one replaced or expired", ck)
	}
	if got := whoami(t, c, s); got != anonymous {
		t.Errorf("after logout: %q", got)
	}
	replay := clientWithCookie(t, s.testSite, stolen)
	if got := whoami(t, replay, s); got != anonymous {
		t.Errorf("replayed cookie after logout: %q", got)
	}
	if r := get(t, replay, s.testSite, "/cart.json"); decode(t, r)["cart"] != nil {
		t.Errorf("replayed cookie finds the logged-out session's data: %v", r)
	}
}

// TestPasswordChangeEndsOtherSessions: two browsers are logged in as
// alice; one changes the password. It stays logged in (under a new
// session key); the other is logged out at its next request, and so is
// a replay of the changer's old cookie. A change made by someone else
// (an admin page) ends every session of the user.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "old-secret-password")
	a, b := newClient(t, s.testSite), newClient(t, s.testSite)
	mustLogin(t, a, s, "alice", "old-secret-password")
	mustLogin(t, b, s, "alice", "old-secret-password")
	get(t, b, s.testSite, "/cart.json?item=book")
	aBefore, bBefore := jarValue(t, a, s.testSite), jarValue(t, b, s.testSite)

	r := post(t, a, s.testSite, "/account/password.html", url.Values{"password": {"new-secret-password"}})
	if r.code != http.StatusFound || r.header.Get("Location") != "/home/" {
		t.Fatalf("password change: %v", r)
	}
	if got := whoami(t, a, s); got != loggedInAs("alice") {
		t.Errorf("the changer was logged out: %q", got)
	}
	if jarValue(t, a, s.testSite) == aBefore {
		t.Error("the changer's session key did not change")
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, aBefore), s); got != anonymous {
		t.Errorf("the changer's old cookie: %q", got)
	}
	r = get(t, b, s.testSite, "/whoami.txt")
	if r.body != anonymous {
		t.Errorf("the other browser is still logged in: %q", r.body)
	}
	// Its cookie is replaced: expired, or (as here, since the login's
	// welcome message still waits) a new session's.
	if ck := sessionCookie(r.header); ck == nil || (ck.MaxAge >= 0 && ck.Value == bBefore) {
		t.Errorf("the other browser's cookie was neither expired nor replaced: %v", ck)
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, bBefore), s); got != anonymous {
		t.Errorf("the other browser's old cookie: %q", got)
	}
	if r := get(t, b, s.testSite, "/cart.json"); decode(t, r)["cart"] != nil {
		t.Errorf("the other browser's session was not ended: %v", r)
	}
	if r := login(t, newClient(t, s.testSite), s, "alice", "old-secret-password", ""); r.code != 200 {
		t.Errorf("login with the old password: %v", r)
	}
	mustLogin(t, b, s, "alice", "new-secret-password")

	// An admin page, not logged in as alice, resets her password: both
	// browsers are logged out.
	admin := newClient(t, s.testSite)
	if r := post(t, admin, s.testSite, "/admin/setpw.json", url.Values{"username": {"alice"}, "password": {"reset-password"}}); r.code != 200 {
		t.Fatalf("admin reset: %v", r)
	}
	for name, c := range map[string]*http.Client{"a": a, "b": b} {
		if got := whoami(t, c, s); got != anonymous {
			t.Errorf("browser %s after the admin reset: %q", name, got)
		}
	}
}

// TestOpenRedirect: the login page redirects only to local paths taken
// from next (through safe_next); anything that could leave the site goes
// to the default.
func TestOpenRedirect(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	const dflt = "/home/"
	vectors := []struct{ next, want string }{
		{"//evil.example", dflt},
		{"///evil.example", dflt},
		{"/\\evil.example", dflt},
		{"\\\\evil.example", dflt},
		{"https://evil.example", dflt},
		{"https:evil.example", dflt},
		{"HTTPS://evil.example/home/", dflt},
		{"javascript:alert(1)", dflt},
		{"\tjavascript:alert(1)", dflt},
		{" /home/", dflt},
		{"/home/\r\nLocation: https://evil.example", dflt},
		{"/\t/evil.example", dflt},
		{"evil.example", dflt},
		{"/%2F%2Fevil.example", dflt},
		{"/%2f/evil.example", dflt},
		{"/%5Cevil.example", dflt},
		{"/%252F%252Fevil.example", dflt},
		{"%2F%2Fevil.example", dflt},
		{"/%09/evil.example", dflt},
		{"/./evil", dflt},
		{"/../evil", dflt},
		{"/\u2215\u2215evil.example", dflt}, // division slashes
		{"/\uff0f\uff0fevil.example", dflt}, // fullwidth solidus
		{"/\u200b/evil.example", dflt},      // zero-width space
		{"", dflt},
		{"/home/?x=1", "/home/?x=1"},
		{"/home/", "/home/"},
		{"/todos/?q=a%20b&next=//x", "/todos/?q=a%20b&next=//x"},
		{"/a%20b/#top", "/a%20b/#top"},
	}

	// The real flow, with next in the query string of the login form.
	for _, v := range []struct{ next, want string }{vectors[0], vectors[2], vectors[4], {"/home/?x=1", "/home/?x=1"}} {
		r := login(t, newClient(t, s.testSite), s, "alice", "secret-password", v.next)
		if r.code != http.StatusFound || r.header.Get("Location") != v.want {
			t.Errorf("login with ?next=%q: %v Location %q, want %q", v.next, r, r.header.Get("Location"), v.want)
		}
	}
	// With next in the form body, as the page's hidden input posts it.
	for _, v := range []struct{ next, want string }{vectors[1], vectors[3], {"/home/?x=1", "/home/?x=1"}} {
		r := post(t, newClient(t, s.testSite), s.testSite, "/account/login.html", url.Values{"username": {"alice"}, "password": {"secret-password"}, "next": {v.next}})
		if r.code != http.StatusFound || r.header.Get("Location") != v.want {
			t.Errorf("login with next=%q in the body: %v Location %q, want %q", v.next, r, r.header.Get("Location"), v.want)
		}
	}
	// Every vector: the login page bounces a logged-in visitor to next.
	mustLogin(t, c, s, "alice", "secret-password")
	for _, v := range vectors {
		r := get(t, c, s.testSite, "/account/login.html?next="+url.QueryEscape(v.next))
		if r.code != http.StatusFound || r.header.Get("Location") != v.want {
			t.Errorf("next=%q: %v Location %q, want %q", v.next, r, r.header.Get("Location"), v.want)
		}
	}
}

// TestLoginRequiredRedirect: an anonymous visitor of a protected page is
// sent to the login page with next = the path and query it asked for,
// escaped; logging in there brings it back; a logged-in visitor gets the
// page.
func TestLoginRequiredRedirect(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	const page = "/home/?x=1&y=a%20b&z=%26"
	r := get(t, c, s.testSite, page)
	wantLoc := "/account/login.html?next=" + url.QueryEscape(page)
	if r.code != http.StatusFound || r.header.Get("Location") != wantLoc {
		t.Fatalf("anonymous GET %s: %v Location %q, want 302 to %q", page, r, r.header.Get("Location"), wantLoc)
	}
	if strings.Contains(r.body, "Home of") {
		t.Errorf("the protected page was rendered for an anonymous visitor: %q", r.body)
	}
	// The login form posts to the URL it was shown at.
	r = post(t, c, s.testSite, wantLoc, url.Values{"username": {"alice"}, "password": {"secret-password"}})
	if r.code != http.StatusFound || r.header.Get("Location") != page {
		t.Fatalf("login: %v Location %q, want %q", r, r.header.Get("Location"), page)
	}
	r = get(t, c, s.testSite, page)
	if r.code != 200 || !strings.HasPrefix(r.body, "<h1>Home of alice</h1>") {
		t.Errorf("logged-in GET %s: %v", page, r)
	}
}

// TestLoginThrottling: after MaxFailures attempts for a username, even the
// right password fails, with a message that says so, until the window
// passes; an unknown username gets the same treatment, so the message
// reveals nothing about which accounts exist.
func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	const wrong = `<p class="error">Wrong username or password.</p>`
	const throttled = `<p class="error">Too many attempts, try again later.</p>`
	for _, name := range []string{"alice", "nobody"} {
		for i := range auth.DefaultMaxFailures {
			if r := login(t, newClient(t, s.testSite), s, name, "guess", ""); r.code != 200 || !strings.Contains(r.body, wrong) {
				t.Fatalf("%s: attempt %d: %v", name, i+1, r)
			}
		}
		if r := login(t, newClient(t, s.testSite), s, name, "guess", ""); !strings.Contains(r.body, throttled) {
			t.Errorf("%s: attempt %d is not throttled: %v", name, auth.DefaultMaxFailures+1, r)
		}
	}
	c := newClient(t, s.testSite)
	if r := login(t, c, s, "alice", "secret-password", ""); r.code != 200 || !strings.Contains(r.body, throttled) {
		t.Errorf("the right password during throttling: %v", r)
	}
	if got := whoami(t, c, s); got != anonymous {
		t.Errorf("logged in while throttled: %q", got)
	}
	// Other accounts are not affected.
	s.createUser(t, "bob", "hunter2-hunter2")
	mustLogin(t, newClient(t, s.testSite), s, "bob", "hunter2-hunter2")

	s.clk.Add(auth.DefaultWindow + time.Second)
	mustLogin(t, c, s, "alice", "secret-password")
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("after the window: %q", got)
	}
}

// TestBadLoginsLookAlike: an unknown user, a wrong password, an inactive
// account, a missing field and an over-long password get the very same
// answer, and none sets a cookie.
func TestBadLoginsLookAlike(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	s.createUser(t, "carol", "secret-password")
	if err := s.users.SetActive(t.Context(), "carol", false); err != nil {
		t.Fatal(err)
	}
	var first result
	for i, form := range []url.Values{
		{"username": {"nobody"}, "password": {"secret-password"}},
		{"username": {"alice"}, "password": {"wrong"}},
		{"username": {"carol"}, "password": {"secret-password"}},
		{"username": {"alice"}},
		{"password": {"secret-password"}},
		{"username": {"alice"}, "password": {"secret-password" + strings.Repeat("x", 80)}},
		{"username": {"$ne"}, "password": {"secret-password"}},
	} {
		r := post(t, newClient(t, s.testSite), s.testSite, "/account/login.html", form)
		if r.code != 200 || !strings.Contains(r.body, "Wrong username or password.") {
			t.Errorf("%v: %v", form, r)
		}
		if ck := sessionCookie(r.header); ck != nil {
			t.Errorf("%v: a failed login set a cookie: %v", form, ck)
		}
		if i == 0 {
			first = r
		} else if r.body != first.body {
			t.Errorf("%v: answer %q differs from the unknown user's %q", form, r.body, first.body)
		}
	}
}

// TestPasswordOver72Bytes: bcrypt reads 72 bytes, but passwords go
// through an HMAC first: up to 128 characters of any script are accepted
// and compared in full, a longer one is refused when set.
func TestPasswordOver72Bytes(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	pw := strings.Repeat("密", auth.MaxPasswordLen) // 384 bytes
	c := newClient(t, s.testSite)
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {pw + "x"}}); r.code != 400 {
		t.Fatalf("create_user with 129 characters: %v, want 400", r)
	}
	if !s.logged("create_user: auth: password is longer than 128 characters (it has 129)") {
		t.Errorf("log lacks the reason:\n%s", s.log.String())
	}
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {pw}}); r.code != 200 {
		t.Fatalf("create_user with 128 characters: %v", r)
	}
	// The first 72 bytes are not the password.
	if r := login(t, newClient(t, s.testSite), s, "alice", pw[:72], ""); r.code != 200 || !strings.Contains(r.body, "Wrong username or password.") {
		t.Errorf("login with the first 72 bytes of the password: %v", r)
	}
	mustLogin(t, c, s, "alice", pw)
	if r := post(t, c, s.testSite, "/account/password.html", url.Values{"password": {pw + "yz"}}); r.code != 400 {
		t.Errorf("set_password with 130 characters: %v, want 400", r)
	}
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("a refused password change logged out: %q", got)
	}
	mustLogin(t, newClient(t, s.testSite), s, "alice", pw)
}

// TestCrossSiteLoginRefused: a cross-origin form post to the login page
// (login CSRF) is refused with 403 before the page runs; a same-origin
// one logs in.
func TestCrossSiteLoginRefused(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	form := url.Values{"username": {"alice"}, "password": {"secret-password"}}
	for name, h := range map[string]http.Header{
		"Origin":         {"Origin": {"https://evil.example"}},
		"Sec-Fetch-Site": {"Sec-Fetch-Site": {"cross-site"}},
		"both":           {"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}},
		"other port":     {"Origin": {strings.Replace(s.srv.URL, "127.0.0.1:", "127.0.0.1:1", 1)}},
	} {
		c := newClient(t, s.testSite)
		r := doHeader(t, c, s.testSite, http.MethodPost, "/account/login.html", form, h)
		if r.code != http.StatusForbidden {
			t.Errorf("%s: cross-origin login: %v, want 403", name, r)
		}
		if ck := sessionCookie(r.header); ck != nil {
			t.Errorf("%s: the refused login set a cookie", name)
		}
		if got := whoami(t, c, s); got != anonymous {
			t.Errorf("%s: logged in by a cross-origin post: %q", name, got)
		}
	}
	c := newClient(t, s.testSite)
	r := doHeader(t, c, s.testSite, http.MethodPost, "/account/login.html", form, http.Header{
		"Origin":         {s.srv.URL},
		"Sec-Fetch-Site": {"same-origin"},
	})
	if r.code != http.StatusFound {
		t.Errorf("same-origin login: %v, want 302", r)
	}
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("after a same-origin login: %q", got)
	}
	// Logout is a POST as well: a cross-site one does not log out.
	if r := doHeader(t, c, s.testSite, http.MethodPost, "/account/logout.html", url.Values{}, http.Header{"Origin": {"https://evil.example"}}); r.code != http.StatusForbidden {
		t.Errorf("cross-origin logout: %v, want 403", r)
	}
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("after a cross-origin logout: %q", got)
	}
}

// TestDisabledAccount: an inactive account cannot log in, and a session
// of an account disabled (or deleted) meanwhile is ended at its next
// request.
func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	s.createUser(t, "bob", "secret-password")
	ctx := t.Context()
	a, b := newClient(t, s.testSite), newClient(t, s.testSite)
	mustLogin(t, a, s, "alice", "secret-password")
	mustLogin(t, b, s, "bob", "secret-password")
	get(t, a, s.testSite, "/cart.json?item=book")
	stolen := jarValue(t, a, s.testSite)

	if err := s.users.SetActive(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, a, s); got != anonymous {
		t.Errorf("session of a disabled account: %q", got)
	}
	if r := get(t, a, s.testSite, "/cart.json"); decode(t, r)["cart"] != nil {
		t.Errorf("the disabled account's session was not ended: %v", r)
	}
	if r := login(t, newClient(t, s.testSite), s, "alice", "secret-password", ""); r.code != 200 || !strings.Contains(r.body, "Wrong username or password.") {
		t.Errorf("login of a disabled account: %v", r)
	}
	// Enabling the account again does not bring the ended session back.
	if err := s.users.SetActive(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, stolen), s); got != anonymous {
		t.Errorf("the ended session came back: %q", got)
	}
	mustLogin(t, a, s, "alice", "secret-password")

	// A session that makes no request while its account is disabled
	// does not come back when the account is enabled again either.
	idle := newClient(t, s.testSite)
	mustLogin(t, idle, s, "alice", "secret-password")
	if err := s.users.SetActive(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if err := s.users.SetActive(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, idle, s); got != anonymous {
		t.Errorf("a session idle while its account was disabled came back: %q", got)
	}

	if err := s.users.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, b, s); got != anonymous {
		t.Errorf("session of a deleted account: %q", got)
	}
}

// TestDuplicateUser: creating an existing username is a clear error that
// names it (409), not a crash, and changes nothing.
func TestDuplicateUser(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	c := newClient(t, s.testSite)
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {"first-password"}}); r.code != 200 {
		t.Fatalf("create: %v", r)
	}
	r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {"second-password"}})
	if r.code != http.StatusConflict {
		t.Errorf("duplicate create_user: %v, want 409", r)
	}
	if want := `create_user: auth: user already exists: "alice"`; !s.logged(want) {
		t.Errorf("log lacks %q:\n%s", want, s.log.String())
	}
	if s.logged("internal server error") {
		t.Errorf("the duplicate was a 500:\n%s", s.log.String())
	}
	mustLogin(t, c, s, "alice", "first-password")
}

// TestSessionForgery: a page cannot log anyone in by writing to
// request.session — not even with the right fingerprint, whatever the
// method — and keys such as "user" mean nothing to the auth hook.
func TestSessionForgery(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "admin", "secret-password")
	fp := auth.Fingerprint(s.user(t, "admin"))
	for _, tc := range []struct {
		key, how string
		code     int
	}{
		{"_auth", "set", 500},
		{"_auth", "update", 500},
		{"_auth", "kwargs", 500},
		{"_auth", "setdefault", 500},
		{"_auth", "plain", 500},
		{"user", "set", 200},
		{"user", "plain", 200},
		{"_user", "set", 200},
		{"username", "plain", 200},
	} {
		c := newClient(t, s.testSite)
		get(t, c, s.testSite, "/cart.json?item=book") // an existing session
		q := url.Values{"key": {tc.key}, "how": {tc.how}, "user": {"admin"}, "fp": {fp}}
		if r := get(t, c, s.testSite, "/forge.json?"+q.Encode()); r.code != tc.code {
			t.Errorf("%s via %s: %v, want %d", tc.key, tc.how, r, tc.code)
		}
		if got := whoami(t, c, s); got != anonymous {
			t.Errorf("%s via %s: forged a login: %q", tc.key, tc.how, got)
		}
	}
	if !s.logged(`request.session: the key "_auth" is reserved for the login`) {
		t.Errorf("log lacks the refusal:\n%s", s.log.String())
	}
	// A logged-in page cannot see or replace the login either.
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "admin", "secret-password")
	if r := get(t, c, s.testSite, "/me.json"); strings.Contains(r.body, "_auth") || strings.Contains(r.body, fp) {
		t.Errorf("the login is visible to the page: %v", r)
	}
	s.createUser(t, "mallory", "secret-password")
	q := url.Values{"key": {"_auth"}, "how": {"set"}, "user": {"mallory"}, "fp": {auth.Fingerprint(s.user(t, "mallory"))}}
	get(t, c, s.testSite, "/forge.json?"+q.Encode())
	if got := whoami(t, c, s); got != loggedInAs("admin") {
		t.Errorf("after a forged switch to mallory: %q", got)
	}
}

// TestMessagesAfterLoginRedirect: the message a login adds survives the
// redirect, is shown once on the next page, escaped, and then is gone.
func TestMessagesAfterLoginRedirect(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	const msg = `<li class="success">Welcome back, alice &lt;b&gt;&amp;&lt;/b&gt;</li>`
	r := get(t, c, s.testSite, "/home/")
	if r.code != 200 || r.body != "<h1>Home of alice</h1><ul>"+msg+"</ul>" {
		t.Errorf("first page after login: %v", r)
	}
	if r := get(t, c, s.testSite, "/home/"); r.body != "<h1>Home of alice</h1><ul></ul>" {
		t.Errorf("second page after login: %v", r)
	}
}

// TestLoginAsAnotherUser: a login on a session of another user empties it
// first (waiting messages stay); a login as the same user keeps the data.
func TestLoginAsAnotherUser(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	s.createUser(t, "bob", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	get(t, c, s.testSite, "/cart.json?item=alice-book")
	mustLogin(t, c, s, "alice", "secret-password")
	if r := get(t, c, s.testSite, "/cart.json"); decode(t, r)["cart"] != "alice-book" {
		t.Errorf("a second login as the same user lost the data: %v", r)
	}
	mustLogin(t, c, s, "bob", "secret-password")
	if r := get(t, c, s.testSite, "/cart.json"); decode(t, r)["cart"] != nil {
		t.Errorf("bob sees alice's session data: %v", r)
	}
	if got := whoami(t, c, s); got != loggedInAs("bob") {
		t.Errorf("whoami = %q", got)
	}
	r := get(t, c, s.testSite, "/home/")
	if n := strings.Count(r.body, "Welcome back, alice"); n != 2 || !strings.Contains(r.body, "Welcome back, bob") {
		t.Errorf("messages after switching users: %q", r.body)
	}
}

// TestCookieStoreLogin: with the cookie store (sessions sealed in the
// cookie, not revocable server-side) the login still gets a new cookie,
// a pre-login cookie does not carry the login, and a password change
// still ends the user's other sessions — the fingerprint travels in the
// sealed session and is checked against the database.
func TestCookieStoreLogin(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t, func(o *siteOptions) {
		o.cfg.Store = trembling.StoreCookie
		o.cfg.KeyDir = t.TempDir()
	})
	s.createUser(t, "alice", "secret-password")
	a, b := newClient(t, s.testSite), newClient(t, s.testSite)
	get(t, a, s.testSite, "/cart.json?item=book")
	before := jarValue(t, a, s.testSite)
	mustLogin(t, a, s, "alice", "secret-password")
	if jarValue(t, a, s.testSite) == before {
		t.Error("the login kept the cookie")
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, before), s); got != anonymous {
		t.Errorf("the pre-login cookie: %q", got)
	}
	mustLogin(t, b, s, "alice", "secret-password")
	if r := post(t, a, s.testSite, "/account/password.html", url.Values{"password": {"new-secret-password"}}); r.code != http.StatusFound {
		t.Fatalf("password change: %v", r)
	}
	if got := whoami(t, a, s); got != loggedInAs("alice") {
		t.Errorf("the changer: %q", got)
	}
	if got := whoami(t, b, s); got != anonymous {
		t.Errorf("the other browser: %q", got)
	}
}

// TestUsernameCase: usernames are one account in any case: "alice"
// cannot register beside "Alice", who logs in as "alice" and keeps the
// spelling she registered.
func TestUsernameCase(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	c := newClient(t, s.testSite)
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"Alice"}, "password": {"secret-password"}}); r.code != 200 {
		t.Fatalf("create Alice: %v", r)
	}
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {"other-password"}}); r.code != http.StatusConflict {
		t.Errorf("create alice beside Alice: %v, want 409", r)
	}
	mustLogin(t, c, s, "alice", "secret-password")
	if got := whoami(t, c, s); got != loggedInAs("Alice") {
		t.Errorf("logged in as alice: %q", got)
	}
	// A login in another case is the same user: the session's data stays.
	get(t, c, s.testSite, "/cart.json?item=book")
	mustLogin(t, c, s, "ALICE", "secret-password")
	if r := get(t, c, s.testSite, "/cart.json"); decode(t, r)["cart"] != "book" {
		t.Errorf("a login as ALICE emptied Alice's session: %v", r)
	}
	// Throttling counts every case as the account.
	for _, name := range []string{"alice", "ALICE", "Alice", "aLice", "alIce"} {
		login(t, newClient(t, s.testSite), s, name, "guess", "")
	}
	if r := login(t, newClient(t, s.testSite), s, "ALICe", "secret-password", ""); !strings.Contains(r.body, "Too many attempts") {
		t.Errorf("failures in five cases did not throttle the account: %v", r)
	}
}

// cookieOf returns the value of the cookie name in c's jar for s, or "".
func cookieOf(t testing.TB, c *http.Client, s *testSite, name string) string {
	t.Helper()
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// withDeviceCookie returns a new client holding the device cookie value.
func withDeviceCookie(t testing.TB, s *testSite, value string) *http.Client {
	t.Helper()
	c := newClient(t, s)
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Jar.SetCookies(u, []*http.Cookie{{Name: trembling.DeviceCookieName, Value: value, Path: "/"}})
	return c
}

// TestDeviceCookieLockout: an attacker's failed logins lock out the
// clients that never logged in as the account, but not the owner's
// browser, which holds a signed device cookie from an earlier login; a
// forged device cookie or another user's gives the attacker nothing.
func TestDeviceCookieLockout(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	s.createUser(t, "bob", "secret-password")
	const throttled = "Too many attempts, try again later."

	owner := newClient(t, s.testSite)
	r := login(t, owner, s, "alice", "secret-password", "")
	var dc *http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == trembling.DeviceCookieName {
			dc = c
		}
	}
	if dc == nil || dc.Value == "" || !dc.HttpOnly || dc.SameSite != http.SameSiteStrictMode || dc.Path != "/" || dc.MaxAge <= 0 {
		t.Fatalf("login set device cookie %v; want a lasting HttpOnly SameSite=Strict one", dc)
	}
	if r := post(t, owner, s.testSite, "/account/logout.html", url.Values{}); r.code != http.StatusFound {
		t.Fatalf("logout: %v", r)
	}
	bob := newClient(t, s.testSite)
	mustLogin(t, bob, s, "bob", "secret-password")
	bobDevice := cookieOf(t, bob, s.testSite, trembling.DeviceCookieName)

	for i := range auth.DefaultMaxFailures {
		if r := login(t, newClient(t, s.testSite), s, "alice", "guess", ""); strings.Contains(r.body, throttled) {
			t.Fatalf("attempt %d already throttled", i+1)
		}
	}
	for name, c := range map[string]*http.Client{
		"no device cookie":       newClient(t, s.testSite),
		"a forged device cookie": withDeviceCookie(t, s.testSite, "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"),
		"bob's device cookie":    withDeviceCookie(t, s.testSite, bobDevice),
	} {
		if r := login(t, c, s, "alice", "secret-password", ""); !strings.Contains(r.body, throttled) {
			t.Errorf("the right password with %s during the lockout: %v", name, r)
		}
		if got := whoami(t, c, s); got != anonymous {
			t.Errorf("%s: logged in during the lockout: %q", name, got)
		}
	}
	mustLogin(t, owner, s, "alice", "secret-password")
	if got := whoami(t, owner, s); got != loggedInAs("alice") {
		t.Errorf("the owner during the lockout: %q", got)
	}
}

// TestDeviceKeyFile: with Config.KeyDir the device cookie key is kept in
// a file only its owner reads, so a browser stays trusted across a
// restart (and by every process on the directory).
func TestDeviceKeyFile(t *testing.T) {
	t.Parallel()
	dir, uri := t.TempDir(), engineURI(t)
	opts := func(o *siteOptions) { o.uri = uri; o.cfg.KeyDir = dir }
	s1 := startAuthSite(t, opts)
	s1.createUser(t, "alice", "secret-password")
	owner := newClient(t, s1.testSite)
	mustLogin(t, owner, s1, "alice", "secret-password")
	device := cookieOf(t, owner, s1.testSite, trembling.DeviceCookieName)
	s1.stop()
	fi, err := os.Stat(filepath.Join(dir, trembling.DeviceKeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}

	s2 := startAuthSite(t, opts)
	for range auth.DefaultMaxFailures {
		login(t, newClient(t, s2.testSite), s2, "alice", "guess", "")
	}
	mustLogin(t, withDeviceCookie(t, s2.testSite, device), s2, "alice", "secret-password")
}

// TestPasswordChecksBounded: with every password-check slot taken (as
// during a spray of logins), a login waits website.password_check_wait
// and then gets 503 with Retry-After, while pages keep being served;
// once a slot is free, logins work again.
func TestPasswordChecksBounded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "authsite"))); err != nil {
		t.Fatal(err)
	}
	startup := "def startup(website):\n    website.db = connect(\"authsite\")\n    website.max_password_checks = 1\n    website.password_check_wait = 0.01\n"
	if err := os.WriteFile(filepath.Join(root, ".aspen", "database.star"), []byte(startup), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	s.createUser(t, "alice", "secret-password")
	owner := newClient(t, s.testSite)
	mustLogin(t, owner, s, "alice", "secret-password")

	release, err := s.users.HashSlot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range auth.DefaultMaxFailures + 1 { // more than the throttle allows: none counts
		r := login(t, newClient(t, s.testSite), s, "alice", "secret-password", "")
		if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" {
			t.Fatalf("login with every slot taken: %v Retry-After %q; want 503 and 1", r, r.header.Get("Retry-After"))
		}
	}
	if r := get(t, newClient(t, s.testSite), s.testSite, "/"); r.code != 200 {
		t.Errorf("a page view with every slot taken: %v", r)
	}
	if got := whoami(t, owner, s); got != loggedInAs("alice") {
		t.Errorf("a logged-in page with every slot taken: %q", got)
	}
	if !s.logged("too many password checks at once") {
		t.Errorf("log lacks the 503's reason:\n%s", s.log.String())
	}
	release()
	mustLogin(t, newClient(t, s.testSite), s, "alice", "secret-password")
}
