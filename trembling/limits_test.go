package trembling_test

import (
	"cmp"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/session"
)

// authSiteWithStartup copies testdata/authsite into a temporary www root
// whose startup hook also runs extra (Starlark statements on website).
func authSiteWithStartup(t *testing.T, extra string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "authsite"))); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(root, ".aspen", "database.star")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(b, []byte("    "+extra+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestLoginSessionLimits checks that a logged-in session ends after the
// login idle timeout (30 minutes by default, else Config, else
// website.session_idle) and the login lifetime counted from the login.
func TestLoginSessionLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		cfg            trembling.Config
		startup        string
		idle, lifetime time.Duration
	}{
		{name: "defaults", idle: session.DefaultLoginIdleTimeout, lifetime: session.DefaultLoginLifetime},
		{name: "config", cfg: trembling.Config{LoginIdleTimeout: 10 * time.Minute, LoginLifetime: time.Hour}, idle: 10 * time.Minute, lifetime: time.Hour},
		{
			name:    "website attributes",
			cfg:     trembling.Config{LoginIdleTimeout: 10 * time.Minute, LoginLifetime: time.Hour},
			startup: "website.session_idle = 300; website.session_lifetime = 1800.0",
			idle:    5 * time.Minute, lifetime: 30 * time.Minute,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startAuthSite(t, func(o *siteOptions) {
				o.cfg.LoginIdleTimeout, o.cfg.LoginLifetime = tc.cfg.LoginIdleTimeout, tc.cfg.LoginLifetime
				if tc.startup != "" {
					o.root = authSiteWithStartup(t, tc.startup)
				}
			})
			s.createUser(t, "alice", "correct horse battery")
			c := newClient(t, s.testSite)
			mustLogin(t, c, s, "alice", "correct horse battery")
			s.clk.Add(tc.idle - time.Second)
			if got := whoami(t, c, s); got != loggedInAs("alice") {
				t.Fatalf("%v after the login: %s, want logged in", tc.idle-time.Second, got)
			}
			s.clk.Add(tc.idle)
			if got := whoami(t, c, s); got != anonymous {
				t.Errorf("%v unused: %s, want anonymous", tc.idle, got)
			}

			// Used more often than the idle timeout, the login lasts its
			// lifetime from the login.
			mustLogin(t, c, s, "alice", "correct horse battery")
			step := tc.idle / 2
			var used time.Duration
			for ; used+step < tc.lifetime; used += step {
				s.clk.Add(step)
				if got := whoami(t, c, s); got != loggedInAs("alice") {
					t.Fatalf("%v after the login, used every %v: %s, want logged in", used+step, step, got)
				}
			}
			s.clk.Add(tc.lifetime - used)
			if got := whoami(t, c, s); got != anonymous {
				t.Errorf("%v after the login: %s, want anonymous", tc.lifetime, got)
			}
		})
	}
}

// TestSessionLimitAttributes checks that a bad website.session_idle or
// website.session_lifetime fails the start with an error naming it.
func TestSessionLimitAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ startup, want string }{
		{`website.session_idle = "30m"`, "website.session_idle must be a number of seconds"},
		{`website.session_lifetime = 0`, "website.session_lifetime: 0 seconds is out of range"},
		{`website.session_idle = -5.0`, "website.session_idle: -5 seconds is out of range"},
	} {
		t.Run(tc.startup, func(t *testing.T) {
			root := t.TempDir()
			if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "storeattr"))); err != nil {
				t.Fatal(err)
			}
			star := "def startup(website):\n    " + tc.startup + "\n"
			if err := os.WriteFile(filepath.Join(root, ".aspen", "settings.star"), []byte(star), 0o644); err != nil {
				t.Fatal(err)
			}
			reg := aspengo.NewRegistry()
			if _, err := trembling.Register(reg, trembling.Config{}); err != nil {
				t.Fatal(err)
			}
			w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Shutdown(t.Context())
			err = w.Start(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDeviceCookieSecure checks that the login_device cookie follows the
// session cookie's Secure rule: Secure on a host that is not loopback,
// not on 127.0.0.1.
func TestDeviceCookieSecure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host   string
		secure bool
	}{
		{"", false},
		{"www.example.test", true},
	} {
		t.Run(cmp.Or(tc.host, "loopback"), func(t *testing.T) {
			s := startAuthSite(t)
			s.createUser(t, "alice", "correct horse battery")
			form := url.Values{"username": {"alice"}, "password": {"correct horse battery"}}
			req, err := http.NewRequest("POST", s.srv.URL+"/account/login.html", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var device *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == trembling.DeviceCookieName {
					device = c
				}
			}
			if device == nil {
				t.Fatalf("login: %d, no %s cookie in %q", resp.StatusCode, trembling.DeviceCookieName, resp.Header.Values("Set-Cookie"))
			}
			if device.Secure != tc.secure {
				t.Errorf("%s cookie Secure = %v, want %v", trembling.DeviceCookieName, device.Secure, tc.secure)
			}
		})
	}
}

// TestLoggedInResponsesNoStore checks that responses to a logged-in user,
// and the logout's, are Cache-Control: no-store, and an anonymous
// visitor's are not.
func TestLoggedInResponsesNoStore(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "correct horse battery")
	c := newClient(t, s.testSite)
	post(t, c, s.testSite, "/cart.json", url.Values{"item": {"x"}})
	if r := get(t, c, s.testSite, "/whoami.txt"); strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		t.Errorf("anonymous page: Cache-Control %q, want no no-store", r.header.Get("Cache-Control"))
	}
	mustLogin(t, c, s, "alice", "correct horse battery")
	for _, path := range []string{"/whoami.txt", "/home/"} {
		r := get(t, c, s.testSite, path)
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s logged in: %d, Cache-Control %q, want no-store", path, r.code, got)
		}
	}
	r := post(t, c, s.testSite, "/account/logout.html", url.Values{})
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("logout: Cache-Control %q, want no-store", got)
	}
}

// TestCookieStoreLogoutSticks checks that with the cookie store a sealed
// cookie replayed after its logout is no longer logged in, while a login
// made after the logout holds.
func TestCookieStoreLogoutSticks(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t, func(o *siteOptions) {
		o.cfg.Store, o.cfg.KeyDir = trembling.StoreCookie, t.TempDir()
	})
	s.createUser(t, "alice", "correct horse battery")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "correct horse battery")
	stolen := jarValue(t, c, s.testSite)
	if stolen == "" {
		t.Fatal("no session cookie after the login")
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, stolen), s); got != loggedInAs("alice") {
		t.Fatalf("copied cookie before the logout: %s, want logged in", got)
	}
	if r := post(t, c, s.testSite, "/account/logout.html", url.Values{}); r.code >= 400 {
		t.Fatalf("logout: %v", r)
	}
	if got := whoami(t, clientWithCookie(t, s.testSite, stolen), s); got != anonymous {
		t.Errorf("cookie replayed after the logout: %s, want anonymous", got)
	}
	mustLogin(t, c, s, "alice", "correct horse battery")
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("login after the logout: %s, want logged in", got)
	}
}
