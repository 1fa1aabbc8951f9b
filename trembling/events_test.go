package trembling_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
)

// eventsHook is a startup module that sets website.on_account_event to a
// function printing each event, and trusts the loopback proxy.
const eventsHook = `def on_account_event(event):
    extra = sorted([k for k in event if k not in ("type", "username", "time")])
    print("account event %s user=%s extra=%s time=%s" % (event["type"], event["username"], ",".join(extra), type(event["time"])))

def startup(website):
    website.db = connect("authsite")
    website.on_account_event = on_account_event
    website.trusted_proxies = ["127.0.0.1/32", "::1"]
    website.login_failures_per_client = 3
`

// TestAccountEvents: a login from a new browser, and a password change,
// call website.on_account_event; a login from a browser with the
// account's device cookie does not.
func TestAccountEvents(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{".aspen/database.star": eventsHook})
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	newDevice := "account event new_device_login user=alice extra=client,user_agent time=time.time"
	if n := strings.Count(s.log.String(), newDevice); n != 1 {
		t.Fatalf("%d new-device events after the first login; want 1:\n%s", n, s.log.String())
	}
	mustLogin(t, c, s, "alice", "secret-password") // the same browser: it has the device cookie
	if n := strings.Count(s.log.String(), newDevice); n != 1 {
		t.Errorf("%d new-device events after a login with the device cookie; want still 1", n)
	}
	mustLogin(t, newClient(t, s.testSite), s, "alice", "secret-password")
	if n := strings.Count(s.log.String(), newDevice); n != 2 {
		t.Errorf("%d new-device events after a login from another browser; want 2", n)
	}
	if r := post(t, c, s.testSite, "/account/password.html", url.Values{"password": {"another-password"}}); r.code != http.StatusFound {
		t.Fatalf("password change: %v", r)
	}
	if want := "account event password_changed user=alice extra=client"; !s.logged(want) {
		t.Errorf("log lacks %q:\n%s", want, s.log.String())
	}
}

// TestAccountEventHookMustBeAFunction: a website.on_account_event that
// cannot be called fails startup with a clear error.
func TestAccountEventHookMustBeAFunction(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{".aspen/database.star": "def startup(website):\n    website.on_account_event = \"mail\"\n"})
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory}); err != nil {
		t.Fatal(err)
	}
	w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(t.Context())
	err = w.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "website.on_account_event must be a function") {
		t.Errorf("Start = %v; want the on_account_event error", err)
	}
}

// TestTemporaryPasswordRedirect: a user whose password an operator set
// as temporary is sent by login_required to the change-password page,
// which itself is not redirected; once changed, the pages open.
func TestTemporaryPasswordRedirect(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	if err := s.users.SetTemporaryPassword(t.Context(), "alice", "temporary-password"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "temporary-password")
	r := get(t, c, s.testSite, "/private.json?x=1")
	if want := trembling.DefaultChangePasswordURL + "?next=%2Fprivate.json%3Fx%3D1"; r.code != http.StatusFound || r.header.Get("Location") != want {
		t.Fatalf("login_required with a temporary password: %v %v; want 302 to %s", r, r.header.Get("Location"), want)
	}
	if r := get(t, c, s.testSite, "/account/password.html"); r.code != http.StatusOK {
		t.Fatalf("the change-password page: %v; want 200", r)
	}
	if r := post(t, c, s.testSite, "/account/password.html", url.Values{"password": {"my-own-password"}}); r.code != http.StatusFound {
		t.Fatalf("password change: %v", r)
	}
	if r := get(t, c, s.testSite, "/private.json"); r.code != http.StatusOK {
		t.Errorf("after the change: %v; want 200", r)
	}
}

// TestClientLoginLimit: failed logins on many accounts from one client,
// here named by the trusted proxy's X-Forwarded-For, are limited in
// total, exactly under parallel attempts; another client is not.
func TestClientLoginLimit(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{".aspen/database.star": eventsHook})
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	attempt := func(client, username string) string {
		req, err := http.NewRequest("POST", s.srv.URL+"/account/login.html", strings.NewReader(url.Values{"username": {username}, "password": {"Spring2025!!"}}.Encode()))
		if err != nil {
			t.Error(err)
			return ""
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100.1, "+client) // the leftmost is the client's own claim
		resp, err := newClient(t, s.testSite).Do(req)
		if err != nil {
			t.Error(err)
			return ""
		}
		defer resp.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, resp.StatusCode)
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return b.String()
	}
	const n = 10
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = attempt("203.0.113.5", fmt.Sprintf("user%d", i))
		}()
	}
	wg.Wait()
	wrong, throttled := 0, 0
	for _, body := range got {
		switch {
		case strings.Contains(body, "Wrong username or password."):
			wrong++
		case strings.Contains(body, "Too many attempts"):
			throttled++
		}
	}
	if wrong != 3 || throttled != n-3 {
		t.Errorf("%d wrong and %d throttled; want 3 and %d:\n%q", wrong, throttled, n-3, got)
	}
	if body := attempt("203.0.113.6", "user0"); !strings.Contains(body, "Wrong username or password.") {
		t.Errorf("another client behind the proxy: %q; want a plain failure", body)
	}
}
