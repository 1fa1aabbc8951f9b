package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/internal/logbuf"
)

// runServe starts aspengo serve with args in the background and returns
// its base URL and a function that stops it (as SIGTERM does) and waits.
func runServe(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	return runServeEnv(t, nil, args...)
}

// runServeEnv is runServe with env as the environment.
func runServeEnv(t *testing.T, env map[string]string, args ...string) (string, func()) {
	t.Helper()
	return runServeLogs(t, env, &logbuf.Buffer{}, args...)
}

// runServeLogs is runServeEnv with the log written to logs.
func runServeLogs(t *testing.T, env map[string]string, logs *logbuf.Buffer, args ...string) (string, func()) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- serveCmd(ctx, append(args, "--addr", "127.0.0.1:0"), func(k string) string { return env[k] }, io.Discard, logs, func(a string) { addrc <- a })
	}()
	select {
	case addr := <-addrc:
		stopped := false
		return "http://" + addr, func() {
			if stopped {
				return
			}
			stopped = true
			stop()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d; log:\n%s", code, logs.String())
			}
		}
	case code := <-done:
		stop()
		t.Fatalf("serve exited %d before it was ready; log:\n%s", code, logs.String())
	}
	return "", nil
}

// TestServeEmbeddedDataSurvivesRestart runs a session counter on the
// embedded engine, restarts aspengo serve on the same data directory and
// checks that both the session and the page's own data are still there.
func TestServeEmbeddedDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	re := regexp.MustCompile(`count=(\d+) total=(\d+)`)
	get := func(base string) string {
		t.Helper()
		resp, err := client.Get(base + "/counter.html")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := re.FindStringSubmatch(string(b))
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("GET /counter.html: %d %s", resp.StatusCode, b)
		}
		return m[0]
	}
	base, stop := runServe(t, "--root", "testdata/counter", "--data", data)
	for _, want := range []string{"count=1 total=1", "count=2 total=2"} {
		if got := get(base); got != want {
			t.Errorf("first run: %q, want %q", got, want)
		}
	}
	stop()

	base, stop = runServe(t, "--root", "testdata/counter", "--data", data)
	defer stop()
	if got, want := get(base), "count=3 total=3"; got != want {
		t.Errorf("after restart: %q, want %q", got, want)
	}
}

func TestServeRefusesBadSessionsFlag(t *testing.T) {
	code := serveCmd(t.Context(), []string{"--root", "testdata/counter", "--sessions", "redis"}, func(string) string { return "" }, io.Discard, io.Discard, nil)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// noFollow is a client that does not follow redirects.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestServeFlagsReachTheSite checks that --secure-cookies, --sessions and
// --trusted-origins (here from the environment) take effect.
func TestServeFlagsReachTheSite(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ASPENGO_TRUSTED_ORIGINS": "https://admin.example"}
	// The trusted origin's POST reaches login.html, whose login of an
	// unknown user costs a dummy bcrypt: at the lowest cost serve allows.
	base, stop := runServeEnv(t, env, "--root", "testdata/counter", "--data", t.TempDir(), "--sessions", "memory", "--secure-cookies", "--bcrypt-cost", "4")
	defer stop()
	resp, err := noFollow.Get(base + "/counter.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	// Secure although the host is 127.0.0.1, so under the __Host- prefix.
	if len(cookies) != 1 || cookies[0].Name != "__Host-session_key" || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Errorf("session cookie %v: want one Secure, HttpOnly __Host-session_key", cookies)
	}
	for _, tt := range []struct {
		origin string
		code   int
	}{
		{"https://admin.example", 200},
		{"https://evil.example", 403},
	} {
		req, _ := http.NewRequest("POST", base+"/login.html", strings.NewReader("username=x&password=y"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tt.origin)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("POST with Origin %s: %d, want %d", tt.origin, resp.StatusCode, tt.code)
		}
	}
}

// TestServeOwnsItsDataDirectory: a second aspengo serve on the data
// directory of a running one is refused, rather than depending on it.
func TestServeOwnsItsDataDirectory(t *testing.T) {
	data := t.TempDir()
	_, stop := runServe(t, "--root", "testdata/counter", "--data", data)
	defer stop()
	var stderr strings.Builder
	code := serveCmd(t.Context(), []string{"--root", "testdata/counter", "--data", data, "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "in use by another aspengo serve") {
		t.Errorf("second serve: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeMongoDBURIFromEnvironment: MONGODB_URI mirrors --mongodb-uri;
// with it the site uses that server and no embedded engine is started.
func TestServeMongoDBURIFromEnvironment(t *testing.T) {
	server := enginetest.Engine(t, t.TempDir()) // stands in for a MongoDB server
	data := filepath.Join(t.TempDir(), "data")
	base, stop := runServeEnv(t, map[string]string{"MONGODB_URI": server.URI()}, "--root", "testdata/counter", "--data", data)
	defer stop()
	resp, err := noFollow.Get(base + "/counter.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /counter.html: %d", resp.StatusCode)
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("the embedded engine was started on %s although MONGODB_URI was set", data)
	}
}

// TestServeSessionLimitFlags: --session-idle and --session-lifetime set
// the limits of a logged-in session, which its cookie's Max-Age shows
// (the idle timeout, when shorter than the lifetime); an anonymous
// session keeps its own.
func TestServeSessionLimitFlags(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	site := []string{"--root", "testdata/counter", "--data", data}
	base, stop := runServe(t, append(site, "--bcrypt-cost", "4", "--sessions", "memory", "--session-idle", "7m", "--session-lifetime", "1h")...)
	defer stop()
	if code, out, errOut := userRun(t, "pw-of-erin-long\n", nil, append([]string{"add", "erin", "--password-stdin"}, site...)...); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	maxAge := func(resp *http.Response) int {
		t.Helper()
		for _, c := range resp.Cookies() {
			if c.Name == "session_key" {
				return c.MaxAge
			}
		}
		t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
		return 0
	}
	resp, err := noFollow.Get(base + "/counter.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := maxAge(resp); got < 23*3600 {
		t.Errorf("anonymous session cookie Max-Age %d, want about 24 hours", got)
	}
	resp, err = noFollow.PostForm(base+"/login.html", url.Values{"username": {"erin"}, "password": {"pw-of-erin-long"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := maxAge(resp); got > 420 || got < 410 {
		t.Errorf("logged-in session cookie Max-Age %d, want about 420 (--session-idle 7m)", got)
	}
}

// TestServeInsecureCookies: a request under a name that is not loopback
// gets a Secure __Host- cookie by default, and a plain one with
// --insecure-cookies (a LAN site served over HTTP).
func TestServeInsecureCookies(t *testing.T) {
	for _, tc := range []struct {
		flags      []string
		wantName   string
		wantSecure bool
	}{
		{nil, "__Host-session_key", true},
		{[]string{"--insecure-cookies"}, "session_key", false},
	} {
		t.Run(fmt.Sprint(tc.flags), func(t *testing.T) {
			args := append([]string{"--root", "testdata/counter", "--data", t.TempDir(), "--sessions", "memory"}, tc.flags...)
			base, stop := runServe(t, args...)
			defer stop()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/counter.html", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "intranet.example"
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookies := resp.Cookies()
			if len(cookies) != 1 || cookies[0].Name != tc.wantName || cookies[0].Secure != tc.wantSecure {
				t.Errorf("Set-Cookie %q; want one cookie %s, Secure %v", resp.Header["Set-Cookie"], tc.wantName, tc.wantSecure)
			}
		})
	}
}

// TestServeBcryptCostFloor: serve refuses a cost below the commands'
// floor, although trembling accepts one (for tests).
func TestServeBcryptCostFloor(t *testing.T) {
	var stderr strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cost := fmt.Sprint(minBcryptCost - 1)
	code := serveCmd(ctx, []string{"--root", "testdata/counter", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--bcrypt-cost", cost}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if want := "bcrypt cost " + cost + " is outside"; code == 0 || !strings.Contains(stderr.String(), want) {
		t.Errorf("exit %d, stderr %q; want a refusal saying %q", code, stderr.String(), want)
	}
}

// TestServeCookieFlagsContradict: --secure-cookies with --insecure-cookies
// is refused before anything starts.
func TestServeCookieFlagsContradict(t *testing.T) {
	var stderr strings.Builder
	// Without the check, serve would start: stop it soon.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	code := serveCmd(ctx, []string{"--root", "testdata/counter", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--secure-cookies", "--insecure-cookies"}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if code == 0 || !strings.Contains(stderr.String(), "--insecure-cookies") {
		t.Errorf("exit %d, stderr %q: want a refusal naming --insecure-cookies", code, stderr.String())
	}
}
