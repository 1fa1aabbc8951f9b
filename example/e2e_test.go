package example_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// The browser tests drive the example with Debian's chromium, headless,
// through chromedp, as a visitor would: every form is filled and submitted
// in the browser, and every check reads what the page shows.

const (
	// stepTimeout bounds each browser step, so that a hang fails the
	// test instead of stalling CI.
	stepTimeout = 30 * time.Second
	// browserTimeout bounds the whole life of a browser.
	browserTimeout = 5 * time.Minute

	// The viewport of a phone, in CSS pixels: the screenshots show the
	// narrow layout and stay small.
	phoneWidth, phoneHeight = 390, 560
)

// browserNames are the executables tried, in order.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// findBrowser returns the path of a chromium to drive. Without one the
// test is skipped, with a message saying how to install it, except in CI
// (CI=true), where a missing browser is a failure.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no browser found (tried %s): install one with `apt-get install chromium` to run the browser tests", strings.Join(browserNames, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactsDir returns the directory for screenshots: $ASPENGO_E2E_ARTIFACTS,
// else artifacts in this package's directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ASPENGO_E2E_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless chromium with a fresh profile and returns
// the context of its first tab; it is stopped when the test ends.
func newBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	// The profile directory: chromium's helper processes can still write
	// to it for a moment after the browser exits, so it is removed with
	// retries rather than by t.TempDir, whose cleanup would fail the test.
	profile, err := os.MkdirTemp("", "aspengo-e2e-profile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the browser profile %s", profile)
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
	}
	life, cancelLife := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelLife()
	})
	// The first Do starts the browser; its life is bound to the context
	// given here, so it gets the long-lived one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	return ctx
}

// tab is one tab of the browser, with the site's address.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// do runs actions within stepTimeout.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value, within stepTimeout.
func get[T any](p *tab, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to path and waits for sel to be visible.
func (p *tab) open(path, sel string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// submit clicks the button sel, waits for the page that the form leads to
// (after any redirect) and for wait to be visible on it.
func (p *tab) submit(what, sel, wait string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	p.do(what+": waiting for "+wait, chromedp.WaitVisible(chromedp.CSS(wait)))
}

// fill types value into the field sel, replacing what it held.
func (p *tab) fill(sel, value string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// path returns the path and query of the page shown.
func (p *tab) path() string {
	p.t.Helper()
	loc := get(p, "location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		p.t.Fatalf("location %q: %v", loc, err)
	}
	return u.RequestURI()
}

// text returns the visible text of the first element sel.
func (p *tab) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(get(p, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// expectPath checks the path and query of the page shown.
func (p *tab) expectPath(what, want string) {
	p.t.Helper()
	if got := p.path(); got != want {
		p.t.Fatalf("%s: the browser is at %q, want %q", what, got, want)
	}
}

// expectText checks that the element sel shows text containing want.
func (p *tab) expectText(sel, want string) {
	p.t.Helper()
	if got := p.text(sel); !strings.Contains(got, want) {
		p.t.Errorf("%s shows %q, want it to contain %q", sel, got, want)
	}
}

// messages returns the texts of the messages the page shows.
func (p *tab) messages() []string {
	p.t.Helper()
	nodes := get(p, "messages", chromedp.Nodes(chromedp.CSSAll("#messages li"), chromedp.AtLeast(0)))
	var out []string
	for _, n := range nodes {
		txt := get(p, "message text", chromedp.Text(chromedp.NodeIDs{n.NodeID}))
		out = append(out, n.AttributeValue("class")+": "+strings.TrimSpace(txt))
	}
	return out
}

// shownTodo is an item of the list as the browser shows it.
type shownTodo struct {
	Title string
	Done  bool
}

// todos returns the list the page shows.
func (p *tab) todos() []shownTodo {
	p.t.Helper()
	nodes := get(p, "todos", chromedp.Nodes(chromedp.CSSAll("#todos li.todo"), chromedp.AtLeast(0)))
	var out []shownTodo
	for _, n := range nodes {
		title := get(p, "todo title", chromedp.Text(chromedp.CSS(".title"), chromedp.FromNode(n)))
		done := strings.Contains(" "+n.AttributeValue("class")+" ", " done ")
		out = append(out, shownTodo{Title: strings.TrimSpace(title), Done: done})
	}
	return out
}

// screenshot saves what the tab shows as a PNG in dir and returns the
// file's path.
func (p *tab) screenshot(dir, name string) string {
	p.t.Helper()
	png := get(p, "screenshot "+name, chromedp.CaptureScreenshot())
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s (%d bytes)", file, len(png))
	return file
}

// todoButton selects the button of the todo titled title whose action is
// action (done, undo or delete).
func todoButton(title, action string) chromedp.Action[chromedp.Void] {
	xpath := fmt.Sprintf(`//li[contains(concat(" ", @class, " "), " todo ")][span[@class="title" and normalize-space()=%q]]//button[@value=%q]`, title, action)
	return chromedp.Click(xpath)
}

// clickTodo clicks a todo's button and waits for the list to come back
// with the message of the action.
func (p *tab) clickTodo(title, action, message string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, todoButton(title, action)); err != nil {
		p.t.Fatalf("%s %q: %v", action, title, err)
	}
	p.do("waiting for the list", chromedp.WaitVisible(chromedp.CSS("#todos")))
	if got := p.messages(); !cmp.Equal(got, []string{message}) {
		p.t.Errorf("%s %q: messages %q, want %q", action, title, got, message)
	}
}

// TestE2ETodoy walks through the example in a real browser: register, log
// out, fail and then succeed to log in, keep a list, and check that a
// second user sees none of it.
func TestE2ETodoy(t *testing.T) {
	execPath := findBrowser(t)
	s := startSite(t)
	artifacts := artifactsDir(t)
	browser := newBrowser(t, execPath)
	alice := &tab{t: t, ctx: browser, base: s.URL}
	// A phone's viewport: the screenshots show the narrow layout.
	alice.do("viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight))

	// The list needs an account: the visitor is sent to the login page,
	// which remembers where they were going.
	alice.open("/home/", "#login-form")
	alice.expectPath("opening /home/ anonymously", "/account/login.html?next=%2Fhome%2F")
	alice.expectText("h1", "Log in")

	// Register, making a typing mistake first.
	alice.submit("to register", "#to-register", "#register-form")
	alice.expectPath("the register link", "/account/register.html")
	alice.fill("#username", "alice")
	alice.fill("#password", alicePassword)
	alice.fill("#confirmation", alicePassword+"!")
	alice.submit("register with a mismatch", "#register", "#password-error")
	alice.expectText("#password-error", "The two passwords do not match.")
	alice.screenshot(artifacts, "register-error.png")
	if got := get(alice, "username kept", chromedp.Value(chromedp.CSS("#username"))); got != "alice" {
		t.Errorf("the form lost the username: %q", got)
	}
	alice.fill("#password", alicePassword)
	alice.fill("#confirmation", alicePassword)
	alice.submit("register", "#register", "#todos")
	alice.expectPath("after registering", "/home/")
	if diff := cmp.Diff([]string{"message success: Welcome to Todoy, alice! Your list is ready."}, alice.messages()); diff != "" {
		t.Errorf("messages after registering (-want +got):\n%s", diff)
	}
	alice.expectText("#who", "alice")

	// Log out with the button in the header.
	alice.submit("log out", "#nav-logout", "#nav-login")
	alice.expectPath("after logging out", "/")
	if diff := cmp.Diff([]string{"message info: You are logged out. See you soon!"}, alice.messages()); diff != "" {
		t.Errorf("messages after logging out (-want +got):\n%s", diff)
	}
	alice.expectText("h1", "Get things done with Todoy")
	alice.screenshot(artifacts, "welcome.png")

	// Back to the list: the login page again. A wrong password is refused
	// in the form.
	alice.open("/home/", "#login-form")
	alice.expectPath("opening /home/ after logging out", "/account/login.html?next=%2Fhome%2F")
	alice.fill("#username", "alice")
	alice.fill("#password", "not my password")
	alice.submit("log in with a wrong password", "#login", "#form-error")
	alice.expectText("#form-error", "Wrong username or password.")
	alice.expectPath("after a failed login", "/account/login.html?next=%2Fhome%2F")
	alice.screenshot(artifacts, "login.png")

	// The right password leads to the list, where the visitor was going.
	alice.fill("#username", "alice")
	alice.fill("#password", alicePassword)
	alice.submit("log in", "#login", "#todos")
	alice.expectPath("after logging in", "/home/")
	if diff := cmp.Diff([]string{"message success: Welcome back, alice."}, alice.messages()); diff != "" {
		t.Errorf("messages after logging in (-want +got):\n%s", diff)
	}
	alice.expectText("#summary", "Empty so far")

	// Three todos; one done, one deleted.
	for _, title := range []string{"Buy oat milk", "Call the plumber", "Water the plants"} {
		alice.fill("#title", title)
		alice.submit("add "+title, "#add", "#todos")
		if diff := cmp.Diff([]string{"message success: Added “" + title + "”."}, alice.messages()); diff != "" {
			t.Errorf("messages after adding %q (-want +got):\n%s", title, diff)
		}
	}
	alice.clickTodo("Call the plumber", "done", "message success: Done: “Call the plumber”. Well done!")
	alice.clickTodo("Water the plants", "delete", "message success: Deleted “Water the plants”.")

	// A reload shows the same list, and no message again.
	alice.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#todos")))
	want := []shownTodo{{Title: "Buy oat milk"}, {Title: "Call the plumber", Done: true}}
	if diff := cmp.Diff(want, alice.todos()); diff != "" {
		t.Errorf("the list after a reload (-want +got):\n%s", diff)
	}
	if got := alice.messages(); len(got) != 0 {
		t.Errorf("a reload shows messages again: %q", got)
	}
	alice.expectText("#summary", "1 to do · 1 done")
	shot := alice.screenshot(artifacts, "todo.png")
	updateReadmeScreenshot(t, shot)
	alice.do("desktop viewport", chromedp.EmulateViewport(1000, 700))
	alice.screenshot(artifacts, "todo-desktop.png")
	alice.do("phone viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight))

	// Log out; the list is closed again.
	alice.submit("log out again", "#nav-logout", "#nav-login")
	alice.open("/home/", "#login-form")
	alice.expectPath("opening /home/ after the second logout", "/account/login.html?next=%2Fhome%2F")

	// A second visitor, in a browser context of their own (no shared
	// cookies), registers and sees an empty list.
	bobCtx, cancelBob := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelBob()
	// As for the browser, the first Do opens the tab and binds it to the
	// context it is given: the tab's own, bounded by the browser's life.
	if err := chromedp.Do(bobCtx); err != nil {
		t.Fatalf("opening a tab in a new browser context: %v", err)
	}
	bob := &tab{t: t, ctx: bobCtx, base: s.URL}
	bob.do("viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight))
	bob.open("/account/register.html", "#register-form")
	bob.fill("#username", "bob")
	bob.fill("#password", bobPassword)
	bob.fill("#confirmation", bobPassword)
	bob.submit("register bob", "#register", "#todos")
	bob.expectText("#who", "bob")
	bob.expectText("#summary", "Empty so far")
	if got := bob.todos(); len(got) != 0 {
		t.Errorf("bob's new list shows %v", got)
	}
	bob.fill("#title", "Fix the bike")
	bob.submit("bob adds", "#add", "#todos")
	if diff := cmp.Diff([]shownTodo{{Title: "Fix the bike"}}, bob.todos()); diff != "" {
		t.Errorf("bob's list (-want +got):\n%s", diff)
	}
	bob.screenshot(artifacts, "todo-second-user.png")

	// The welcome page greets a logged-in visitor differently.
	bob.open("/", "#go-list")
	bob.expectText("h1", "Welcome back, bob!")
	bob.expectText(".hero", "You have 1 thing to do.")

	// A missing page gets the site's own 404 page.
	bob.open("/no-such-page.html", "h1")
	bob.expectText("h1", "Not found")
	bob.expectText("main", "There is no page at this address.")
	bob.screenshot(artifacts, "not-found.png")
}

// updateReadmeScreenshot copies the screenshot of the list to
// screenshot-todo.png, which the README shows, when that file is missing
// or ASPENGO_E2E_SCREENSHOT=1 asks for a new one; so a test run does not
// change a committed file by accident.
func updateReadmeScreenshot(t *testing.T, shot string) {
	t.Helper()
	const readmeShot = "screenshot-todo.png"
	_, err := os.Stat(readmeShot)
	if err == nil && os.Getenv("ASPENGO_E2E_SCREENSHOT") != "1" {
		return
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readmeShot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", readmeShot)
}
