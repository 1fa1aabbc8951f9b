package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/internal/logbuf"
)

// TestNewSite runs aspengo new, then aspengo check on the result, then
// serves it with aspengo serve and goes through a visitor's first
// minutes over HTTP: the private page sends them to log in, they
// register, see the private page, log out, are sent to log in again, log
// in with a wrong and then the right password.
func TestNewSite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mysite")
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"new", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("new: exit %d\n%s", code, stderr.String())
	}
	www := filepath.Join(dir, "www")
	for _, want := range []string{"aspengo check --root " + www, "aspengo serve --root " + www} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("new's output lacks %q:\n%s", want, stdout.String())
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".gitignore")); err != nil || !strings.Contains(string(b), "/www/.aspen/data/") {
		t.Errorf(".gitignore: %q, %v", b, err)
	}
	if code := run(t.Context(), []string{"new", dir}, io.Discard, io.Discard); code != 1 {
		t.Errorf("new into a non-empty directory: exit %d, want 1", code)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(t.Context(), []string{"check", "--root", www}, &stdout, &stderr); code != 0 {
		t.Fatalf("check: exit %d\n%s", code, stderr.String())
	}

	ctx, stop := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	var logs logbuf.Buffer // serve writes to it from more than one goroutine
	go func() {
		done <- serveCmd(ctx, []string{"--root", www, "--addr", "127.0.0.1:0", "--bcrypt-cost", "4"},
			func(string) string { return "" }, io.Discard, &logs, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("serve ended with %d before it was ready:\n%s", code, logs.String())
	}
	defer func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("serve: exit %d\n%s", code, logs.String())
		}
	}()

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	const password = "correct horse battery staple"
	steps := []struct {
		name     string
		method   string
		path     string
		form     url.Values
		code     int
		location string
		contains string
	}{
		{name: "start page", method: "GET", path: "/", code: 200, contains: "This is mysite"},
		{name: "404 page", method: "GET", path: "/nope", code: 404, contains: "There is no page at this address"},
		{name: "private page sends to login", method: "GET", path: "/private/", code: 302, location: "/account/login.html?next=%2Fprivate%2F"},
		{name: "short password refused", method: "POST", path: "/account/register.html", form: url.Values{"username": {"alice"}, "password": {"short"}, "confirmation": {"short"}}, code: 200, contains: "Use at least"},
		{name: "register", method: "POST", path: "/account/register.html", form: url.Values{"username": {"alice"}, "password": {password}, "confirmation": {password}}, code: 302, location: "/private/"},
		{name: "private page after registering", method: "GET", path: "/private/", code: 200, contains: `<strong id="private-user">alice</strong>`},
		{name: "logout", method: "POST", path: "/account/logout.html", form: url.Values{}, code: 302, location: "/"},
		{name: "private page after logout", method: "GET", path: "/private/", code: 302, location: "/account/login.html?next=%2Fprivate%2F"},
		{name: "wrong password", method: "POST", path: "/account/login.html?next=%2Fprivate%2F", form: url.Values{"username": {"alice"}, "password": {"wrong password"}}, code: 200, contains: "Wrong username or password"},
		{name: "login", method: "POST", path: "/account/login.html?next=%2Fprivate%2F", form: url.Values{"username": {"alice"}, "password": {password}}, code: 302, location: "/private/"},
		{name: "private page after login", method: "GET", path: "/private/", code: 200, contains: "Welcome back, alice."},
	}
	for _, s := range steps {
		code, location, body := do(s.method, s.path, s.form)
		if code != s.code || location != s.location || !strings.Contains(body, s.contains) {
			t.Fatalf("%s: %s %s = %d, Location %q, want %d, %q, body containing %q; body:\n%s\nlog:\n%s",
				s.name, s.method, s.path, code, location, s.code, s.location, s.contains, body, logs.String())
		}
	}
}
