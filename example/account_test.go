package example_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// The account pages: changing the password, and the sessions of the
// account.

const aliceNewPassword = "a brand new passphrase"

// TestChangePasswordPage: the change-password form refuses a mismatch,
// a weak password and a wrong current one, each with its message; then
// it changes the password, keeps this browser logged in and logs the
// account's other browsers out.
func TestChangePasswordPage(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	expectRedirect(t, "the page anonymously", v.get("/account/password.html"), http.StatusFound, "/account/login.html?next=%2Faccount%2Fpassword.html")
	v.register(t, "alice", alicePassword)
	other := s.visitor(t)
	expectRedirect(t, "login elsewhere", other.post("/account/login.html", form("username", "alice", "password", alicePassword)), http.StatusFound, "/home/")

	expectPage(t, "the form", v.get("/account/password.html"), `id="password-form"`, `id="current"`, `id="confirmation"`)
	for _, tc := range []struct {
		name string
		form []string
		want string
	}{
		{"a mismatch", []string{"current", alicePassword, "password", aliceNewPassword, "confirmation", aliceNewPassword + "!"}, "The two passwords do not match."},
		{"too short", []string{"current", alicePassword, "password", "short", "confirmation", "short"}, "at least 12 characters"},
		{"no current", []string{"current", "", "password", aliceNewPassword, "confirmation", aliceNewPassword}, "Enter your current password."},
		{"a wrong current", []string{"current", "not my password", "password", aliceNewPassword, "confirmation", aliceNewPassword}, "The current password is wrong."},
		{"unchanged", []string{"current", alicePassword, "password", alicePassword, "confirmation", alicePassword}, "The new password is the current one"},
	} {
		expectPage(t, tc.name, v.post("/account/password.html", form(tc.form...)), tc.want, `id="form-error"`)
	}
	a := v.post("/account/password.html", form("current", alicePassword, "password", aliceNewPassword, "confirmation", aliceNewPassword))
	expectRedirect(t, "the change", a, http.StatusFound, "/account/")
	_, msgs := v.list(t)
	if diff := cmp.Diff([]string{"success: Your password is changed. Your other sessions are logged out."}, msgs); diff != "" {
		t.Errorf("messages after the change (-want +got):\n%s", diff)
	}
	expectRedirect(t, "the other browser", other.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")
	expectPage(t, "the old password", other.post("/account/login.html", form("username", "alice", "password", alicePassword)), "Wrong username or password.")
	expectRedirect(t, "the new password", other.post("/account/login.html", form("username", "alice", "password", aliceNewPassword)), http.StatusFound, "/home/")
	if !strings.Contains(s.log.String(), "account event: password_changed for alice") {
		t.Errorf("the log lacks the password_changed event:\n%s", s.log.String())
	}
}

// TestTemporaryPasswordPage: a user whose password an operator set as
// temporary is led from their login to the change-password page, which
// opens (no redirect loop), and once they chose their own, to where they
// were going.
func TestTemporaryPasswordPage(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	v.register(t, "alice", alicePassword)
	expectRedirect(t, "logout", v.post("/account/logout.html", nil), http.StatusFound, "/")
	// What aspengo user passwd --temporary leaves in the account.
	users := s.conn.Client().Database("todoy").Collection("users")
	if _, err := users.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: "alice"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "must_change_password", Value: true}}}}); err != nil {
		t.Fatal(err)
	}
	expectRedirect(t, "login", v.post("/account/login.html?next=%2Fhome%2F", form("username", "alice", "password", alicePassword, "next", "/home/")), http.StatusFound, "/home/")
	expectRedirect(t, "the list", v.get("/home/"), http.StatusFound, "/account/password.html?next=%2Fhome%2F")
	expectPage(t, "the change-password page", v.get("/account/password.html?next=%2Fhome%2F"), `id="must-change"`, `id="password-form"`, `name="next" value="/home/"`)
	a := v.post("/account/password.html?next=%2Fhome%2F", form("current", alicePassword, "password", aliceNewPassword, "confirmation", aliceNewPassword, "next", "/home/"))
	expectRedirect(t, "the change", a, http.StatusFound, "/home/")
	v.list(t)
	if a := v.get("/account/password.html"); strings.Contains(a.body, `id="must-change"`) {
		t.Error("the page still says the password was set for the user")
	}
}

// sessionFormRE finds the "log out" forms of the account page's sessions.
var sessionFormRE = regexp.MustCompile(`name="session" value="([^"]+)"`)

// TestAccountPage: the account page lists the browsers logged in to the
// account, marks this one, and logs another one out.
func TestAccountPage(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	expectRedirect(t, "the page anonymously", v.get("/account/"), http.StatusFound, "/account/login.html?next=%2Faccount%2F")
	v.register(t, "alice", alicePassword)
	other := s.visitor(t)
	expectRedirect(t, "login elsewhere", other.post("/account/login.html", form("username", "alice", "password", alicePassword)), http.StatusFound, "/home/")
	bob := s.visitor(t)
	bob.register(t, "bob", bobPassword)

	a := v.get("/account/")
	expectPage(t, "the account page", a, `id="account-user">alice<`, `href="/account/password.html"`, "This browser", "Go client")
	if n := strings.Count(a.body, `<li class="session`); n != 2 {
		t.Fatalf("%d sessions listed, want 2:\n%s", n, a.body)
	}
	ids := sessionFormRE.FindAllStringSubmatch(a.body, -1)
	if len(ids) != 1 {
		t.Fatalf("%d log-out buttons, want 1 (for the other browser):\n%s", len(ids), a.body)
	}
	// Bob cannot end it.
	expectRedirect(t, "bob ends alice's session", bob.post("/account/", form("session", ids[0][1])), http.StatusFound, "/account/")
	expectPage(t, "the other browser after bob tried", other.get("/home/"), `id="todos"`)

	expectRedirect(t, "ending it", v.post("/account/", form("session", ids[0][1])), http.StatusFound, "/account/")
	a = v.get("/account/")
	expectPage(t, "the account page after", a, "That session is logged out.")
	if n := strings.Count(a.body, `<li class="session`); n != 1 {
		t.Errorf("%d sessions listed after ending one, want 1", n)
	}
	expectRedirect(t, "the ended browser", other.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")
	expectPage(t, "bob", bob.get("/home/"), `id="todos"`)
}

// TestReauthLoginPage: sent back to the login page to give their
// password again (reauth=1), a logged-in user gets the form with their
// username, and their login leads back.
func TestReauthLoginPage(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	v.register(t, "alice", alicePassword)
	expectPage(t, "the login page, logged in", v.get("/account/login.html"), "You are logged in as")
	a := v.get("/account/login.html?next=%2Faccount%2F&reauth=1")
	expectPage(t, "the login page for reauth", a, `id="reauth"`, `id="login-form"`, `value="alice"`)
	expectRedirect(t, "login again", v.post("/account/login.html?next=%2Faccount%2F&reauth=1", form("username", "alice", "password", alicePassword, "next", "/account/")), http.StatusFound, "/account/")
	expectPage(t, "the account page", v.get("/account/"), `id="sessions"`)
}
