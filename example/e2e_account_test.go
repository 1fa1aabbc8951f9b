package example_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// TestE2EAccount walks through the account pages in a real browser:
// change the password (the old one then fails, the new one works), see
// the account logged in from two browsers on the account page, and log
// the other one out from there (its next page is anonymous).
func TestE2EAccount(t *testing.T) {
	execPath := findBrowser(t)
	s := startSite(t)
	artifacts := artifactsDir(t)
	browser := newBrowser(t, execPath)
	alice := &tab{t: t, ctx: browser, base: s.URL}
	alice.do("viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight))

	alice.open("/account/register.html", "#register-form")
	alice.fill("#username", "alice")
	alice.fill("#password", alicePassword)
	alice.fill("#confirmation", alicePassword)
	alice.submit("register", "#register", "#todos")

	// The name in the header leads to the account page, and from there
	// to the change-password form.
	alice.submit("to the account page", "#who", "#sessions")
	alice.expectPath("the account link", "/account/")
	alice.expectText("#account-user", "alice")
	alice.submit("to the password page", "#to-password", "#password-form")
	alice.expectPath("the password link", "/account/password.html")

	// A wrong current password is refused in the form.
	alice.fill("#current", "not my password")
	alice.fill("#password", aliceNewPassword)
	alice.fill("#confirmation", aliceNewPassword)
	alice.submit("a wrong current password", "#change-password", "#form-error")
	alice.expectText("#form-error", "The current password is wrong.")
	alice.screenshot(artifacts, "password-error.png")

	alice.fill("#current", alicePassword)
	alice.fill("#password", aliceNewPassword)
	alice.fill("#confirmation", aliceNewPassword)
	alice.submit("change the password", "#change-password", "#sessions")
	alice.expectPath("after the change", "/account/")
	if diff := cmp.Diff([]string{"message success: Your password is changed. Your other sessions are logged out."}, alice.messages()); diff != "" {
		t.Errorf("messages after the change (-want +got):\n%s", diff)
	}

	// A second browser (a context of its own, with its own cookies):
	// the old password fails, the new one works.
	otherCtx, cancelOther := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelOther()
	if err := chromedp.Do(otherCtx); err != nil {
		t.Fatalf("opening a tab in a new browser context: %v", err)
	}
	other := &tab{t: t, ctx: otherCtx, base: s.URL}
	other.do("viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight))
	other.open("/home/", "#login-form")
	other.fill("#username", "alice")
	other.fill("#password", alicePassword)
	other.submit("log in with the old password", "#login", "#form-error")
	other.expectText("#form-error", "Wrong username or password.")
	other.fill("#username", "alice")
	other.fill("#password", aliceNewPassword)
	other.submit("log in with the new password", "#login", "#todos")
	other.expectPath("after logging in with the new password", "/home/")

	// The account page lists both browsers, this one marked; the other
	// is logged out from here.
	alice.open("/account/", "#sessions")
	sessions := get(alice, "sessions", chromedp.Nodes(chromedp.CSSAll("#sessions li.session"), chromedp.AtLeast(0)))
	if len(sessions) != 2 {
		t.Fatalf("the account page lists %d sessions, want 2", len(sessions))
	}
	alice.expectText("#sessions li.current .this", "This browser")
	alice.expectText("#sessions li.current .client", "Headless Chrome")
	alice.screenshot(artifacts, "account.png")
	alice.submit("log the other browser out", "#sessions li:not(.current) button.end", "#sessions")
	if diff := cmp.Diff([]string{"message success: That session is logged out."}, alice.messages()); diff != "" {
		t.Errorf("messages after ending the other session (-want +got):\n%s", diff)
	}
	sessions = get(alice, "sessions", chromedp.Nodes(chromedp.CSSAll("#sessions li.session"), chromedp.AtLeast(0)))
	if len(sessions) != 1 {
		t.Errorf("the account page lists %d sessions after ending one, want 1", len(sessions))
	}

	// The other browser's next page is anonymous.
	other.do("reload the list", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	other.expectPath("the ended browser's list", "/account/login.html?next=%2Fhome%2F")
	other.expectText("#nav-login", "Log in")
}
