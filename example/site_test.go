package example_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
)

// The passwords of the test accounts.
const (
	alicePassword = "correct horse battery"
	bobPassword   = "staple tuna river"
)

// TestCheck is `aspengo check` on the example: hooks.conf and every
// simplate and module compile with the builtins aspengo serve provides.
func TestCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := database.New(ctx, "mongodb://127.0.0.1:1") // never contacted
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := aspengo.Check(aspengo.Config{Root: root, Registry: newRegistry(t, conn)}); err != nil {
		t.Fatalf("aspengo check on the example:\n%v", err)
	}
}

// todo is an item of the list as /home/ shows it.
type todo struct {
	ID    string
	Title string
	Done  bool
}

var (
	todoRE    = regexp.MustCompile(`(?s)<li class="todo( done)?" id="todo-([0-9a-f]{24})">.*?<span class="title">(.*?)</span>`)
	messageRE = regexp.MustCompile(`(?s)<li class="message (\w+)" role="status">(.*?)</li>`)
	summaryRE = regexp.MustCompile(`(?s)<p class="summary" id="summary">(.*?)</p>`)
)

// todosOf reads the list from a page of /home/.
func todosOf(body string) []todo {
	var out []todo
	for _, m := range todoRE.FindAllStringSubmatch(body, -1) {
		out = append(out, todo{ID: m[2], Title: html.UnescapeString(m[3]), Done: m[1] != ""})
	}
	return out
}

// messagesOf reads the messages of a page, as "level: text".
func messagesOf(body string) []string {
	var out []string
	for _, m := range messageRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+": "+html.UnescapeString(m[2]))
	}
	return out
}

// expectRedirect checks that a is a redirect to location.
func expectRedirect(t *testing.T, what string, a answer, code int, location string) {
	t.Helper()
	if a.code != code || a.location != location {
		t.Fatalf("%s: got %d to %q, want %d to %q\n%s", what, a.code, a.location, code, location, a.body)
	}
}

// expectPage checks that a is a 200 HTML page containing every one of want.
func expectPage(t *testing.T, what string, a answer, want ...string) {
	t.Helper()
	if a.code != http.StatusOK || !strings.HasPrefix(a.ctype, "text/html") {
		t.Fatalf("%s: got %d %q, want a 200 HTML page\n%s", what, a.code, a.ctype, a.body)
	}
	for _, w := range want {
		if !strings.Contains(a.body, w) {
			t.Errorf("%s: the page lacks %q\n%s", what, w, a.body)
		}
	}
}

// register creates an account through the register page and checks that
// it logs the visitor in and sends them to their list.
func (v *visitor) register(t *testing.T, username, password string) {
	t.Helper()
	a := v.post("/account/register.html", form("username", username, "password", password, "confirmation", password))
	expectRedirect(t, "register "+username, a, http.StatusFound, "/home/")
}

// list returns the visitor's list and the messages shown with it.
func (v *visitor) list(t *testing.T) ([]todo, []string) {
	t.Helper()
	a := v.get("/home/")
	expectPage(t, "GET /home/", a, `id="todos"`)
	return todosOf(a.body), messagesOf(a.body)
}

// act posts one of the list's forms and checks the redirect back.
func (v *visitor) act(t *testing.T, f ...string) {
	t.Helper()
	a := v.post("/home/", form(f...))
	expectRedirect(t, "POST /home/ "+strings.Join(f, " "), a, http.StatusFound, "/home/")
}

func TestAnonymousPages(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	tests := []struct {
		path     string
		code     int
		location string
		want     []string
	}{
		{path: "/", code: 200, want: []string{"Get things done with Todoy", `id="cta-register"`, `id="nav-login"`, `name="viewport"`, `href="/style.css"`}},
		{path: "/home/", code: 302, location: "/account/login.html?next=%2Fhome%2F"},
		{path: "/home/?q=1", code: 302, location: "/account/login.html?next=%2Fhome%2F%3Fq%3D1"},
		{path: "/home", code: 301, location: "/home/"},
		{path: "/account/login.html", code: 200, want: []string{`id="login-form"`, `name="next" value="/home/"`}},
		{path: "/account/login.html?next=%2Fhome%2F", code: 200, want: []string{`name="next" value="/home/"`}},
		{path: "/account/login.html?next=https%3A%2F%2Fevil.example%2F", code: 200, want: []string{`name="next" value="/home/"`}},
		{path: "/account/register.html", code: 200, want: []string{`id="register-form"`, `name="confirmation"`}},
		{path: "/account/logout.html", code: 200, want: []string{"You are not logged in"}},
		{path: "/nothing-here.html", code: 404, want: []string{"There is no page at this address", `href="/style.css"`}},
		{path: "/.aspen/hooks.conf", code: 404, want: []string{"There is no page at this address"}},
		{path: "/.aspen/accounts.star", code: 404},
	}
	for _, tt := range tests {
		a := v.get(tt.path)
		if a.code != tt.code || a.location != tt.location {
			t.Errorf("GET %s: got %d to %q, want %d to %q", tt.path, a.code, a.location, tt.code, tt.location)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(a.body, w) {
				t.Errorf("GET %s: the page lacks %q\n%s", tt.path, w, a.body)
			}
		}
	}
	if a := v.get("/style.css"); a.code != 200 || !strings.HasPrefix(a.ctype, "text/css") || !strings.Contains(a.body, ".todo") {
		t.Errorf("GET /style.css: got %d %q", a.code, a.ctype)
	}
}

func TestRegistrationErrors(t *testing.T) {
	s := startSite(t)
	s.visitor(t).register(t, "alice", alicePassword)

	tests := []struct {
		name                string
		username, pw, again string
		want                string
	}{
		{"empty username", "", "a fine passphrase", "a fine passphrase", "Choose a username."},
		{"taken", "alice", "a fine passphrase", "a fine passphrase", "That username is taken."},
		{"taken in another case", "Alice", "a fine passphrase", "a fine passphrase", "That username is taken."},
		{"invalid character", "bob smith", "a fine passphrase", "a fine passphrase", "Use only letters, digits"},
		{"not ASCII", "zoë", "a fine passphrase", "a fine passphrase", "Use only letters, digits"},
		{"starts with a dot", ".bob", "a fine passphrase", "a fine passphrase", "Start your username with a letter or a digit."},
		{"username too long", strings.Repeat("b", 65), "a fine passphrase", "a fine passphrase", "That username is too long"},
		{"password too short", "bob", "12345678901", "12345678901", "Use at least 12 characters"},
		{"password too short in characters", "bob", strings.Repeat("é", 11), strings.Repeat("é", 11), "Use at least 12 characters"},
		{"password too long", "bob", strings.Repeat("p", 129), strings.Repeat("p", 129), "That password is too long: 128 characters at most"},
		{"common password", "bob", "qwerty123456", "qwerty123456", "one of the most common ones"},
		{"mismatch", "bob", "a fine passphrase", "a fine passphrase!", "The two passwords do not match."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := s.visitor(t)
			a := v.post("/account/register.html", form("username", tt.username, "password", tt.pw, "confirmation", tt.again))
			expectPage(t, "register", a, html.EscapeString(tt.want), `id="form-error"`, `id="register-form"`)
			// The form keeps the username, escaped.
			if tt.username != "" && !strings.Contains(a.body, `value="`+html.EscapeString(tt.username)+`"`) {
				t.Errorf("the form does not keep the username %q", tt.username)
			}
			// No account was made and nobody is logged in.
			expectRedirect(t, "GET /home/ after a refused registration", v.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")
		})
	}
	// "Alice" is alice's account.
	var got struct{ Available bool }
	a := s.visitor(t).get("/account/user_valid.json?username=Alice")
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || got.Available {
		t.Errorf("user_valid.json?username=Alice: %s (%v), want taken", a.body, err)
	}
}

func TestLoginLogout(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	v.register(t, "alice", alicePassword)
	expectPage(t, "GET / logged in", v.get("/"), "Welcome back, alice!", "Nothing left to do.", `id="who">alice<`, `id="nav-logout"`)
	expectPage(t, "GET logout page logged in", v.get("/account/logout.html"), "You are logged in as <strong>alice</strong>", `id="logout"`)
	// Logged in, the register page does not make another account.
	a := v.post("/account/register.html", form("username", "carol", "password", "a fine passphrase", "confirmation", "a fine passphrase"))
	expectPage(t, "register while logged in", a, "Log out first to create another account.")
	if strings.Contains(a.body, `id="register-form"`) {
		t.Errorf("the register form is shown to a logged-in visitor")
	}
	if a := v.get("/account/user_valid.json?username=carol"); !strings.Contains(a.body, `"available":true`) {
		t.Errorf("carol was registered by a logged-in visitor: %s", a.body)
	}

	expectRedirect(t, "logout", v.post("/account/logout.html", nil), http.StatusFound, "/")
	a = v.get("/")
	expectPage(t, "GET / after logout", a, "Get things done with Todoy", `id="nav-login"`)
	if diff := cmp.Diff([]string{"info: You are logged out. See you soon!"}, messagesOf(a.body)); diff != "" {
		t.Errorf("messages after logout (-want +got):\n%s", diff)
	}
	expectRedirect(t, "GET /home/ after logout", v.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")

	// A wrong password, or an unknown user, is answered in the form.
	for _, f := range [][]string{
		{"username", "alice", "password", "wrong password"},
		{"username", "nobody", "password", alicePassword},
		{"username", "", "password", ""},
	} {
		a := v.post("/account/login.html?next=%2Fhome%2F", form(append(f, "next", "/home/")...))
		expectPage(t, "login "+strings.Join(f, " "), a, "Wrong username or password.", `id="login-form"`)
		expectRedirect(t, "GET /home/ after a failed login", v.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")
	}

	// The right one sends the visitor where login_required found them.
	a = v.post("/account/login.html?next=%2Fhome%2F%3Fq%3D1", form("username", "alice", "password", alicePassword, "next", "/home/?q=1"))
	expectRedirect(t, "login", a, http.StatusFound, "/home/?q=1")
	// An error page keeps the waiting message for the next page.
	if a := v.get("/no-such-page"); a.code != http.StatusNotFound || len(messagesOf(a.body)) != 0 {
		t.Errorf("404 page: code %d, messages %v: want 404 and none", a.code, messagesOf(a.body))
	}
	_, msgs := v.list(t)
	if diff := cmp.Diff([]string{"success: Welcome back, alice."}, msgs); diff != "" {
		t.Errorf("messages after login (-want +got):\n%s", diff)
	}

	// A next that leaves the site is replaced by the list.
	expectRedirect(t, "logout", v.post("/account/logout.html", nil), http.StatusFound, "/")
	a = v.post("/account/login.html?next=https%3A%2F%2Fevil.example%2F", form("username", "alice", "password", alicePassword, "next", "//evil.example/"))
	expectRedirect(t, "login with a foreign next", a, http.StatusFound, "/home/")
}

func TestTodos(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	v.register(t, "alice", alicePassword)
	items, msgs := v.list(t)
	if len(items) != 0 {
		t.Fatalf("a new list has %v", items)
	}
	if diff := cmp.Diff([]string{"success: Welcome to Todoy, alice! Your list is ready."}, msgs); diff != "" {
		t.Errorf("messages after registering (-want +got):\n%s", diff)
	}

	for _, title := range []string{"Buy milk", "Call <Mom> & Dad", "Water plants"} {
		v.act(t, "action", "add", "title", "  "+title+"  ")
	}
	items, msgs = v.list(t)
	wantTitles := []string{"Buy milk", "Call <Mom> & Dad", "Water plants"}
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
		if it.Done {
			t.Errorf("%q is done before anyone said so", it.Title)
		}
	}
	if diff := cmp.Diff(wantTitles, titles); diff != "" {
		t.Fatalf("titles (-want +got):\n%s", diff)
	}
	// Messages wait across the redirects until a page shows them; the
	// title is escaped in the page.
	if diff := cmp.Diff([]string{
		"success: Added “Buy milk”.",
		"success: Added “Call <Mom> & Dad”.",
		"success: Added “Water plants”.",
	}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if a := v.get("/home/"); strings.Contains(a.body, "<Mom>") || len(messagesOf(a.body)) != 0 {
		t.Errorf("the page shows the title unescaped or shows old messages again:\n%s", a.body)
	}

	byTitle := map[string]string{}
	for _, it := range items {
		byTitle[it.Title] = it.ID
	}
	v.act(t, "action", "done", "id", byTitle["Call <Mom> & Dad"])
	v.act(t, "action", "done", "id", byTitle["Buy milk"])
	v.act(t, "action", "undo", "id", byTitle["Buy milk"])
	v.act(t, "action", "delete", "id", byTitle["Water plants"])
	items, msgs = v.list(t)
	want := []todo{
		{ID: byTitle["Buy milk"], Title: "Buy milk"},
		{ID: byTitle["Call <Mom> & Dad"], Title: "Call <Mom> & Dad", Done: true},
	}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("list after done, undo and delete (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"success: Done: “Call <Mom> & Dad”. Well done!",
		"success: Done: “Buy milk”. Well done!",
		"info: “Buy milk” is back on your list.",
		"success: Deleted “Water plants”.",
	}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	a := v.get("/home/")
	if m := summaryRE.FindStringSubmatch(a.body); m == nil || strings.TrimSpace(m[1]) != "1 to do · 1 done" {
		t.Errorf("summary: %q, want 1 to do · 1 done", m)
	}
	expectPage(t, "GET / with a list", v.get("/"), "You have <strong>1</strong> thing to do.")

	// What the list refuses.
	v.act(t, "action", "add", "title", "   ")
	v.act(t, "action", "add", "title", strings.Repeat("x", 201))
	v.act(t, "action", "delete", "id", byTitle["Water plants"]) // gone already
	items, msgs = v.list(t)
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("list after refused changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"warning: Write something to do first.",
		"error: That is a long one: keep it under 200 characters.",
		"warning: That todo is not on your list.",
	}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}

	// Malformed requests are 400s: an id that is not 24 hex digits (a
	// form value cannot be an operator; this one is just a string), an
	// unknown action.
	for _, f := range []struct{ what, action, id string }{
		{"id not hex", "done", "zzzzzzzzzzzzzzzzzzzzzzzz"},
		{"id an operator in JSON", "delete", `{"$ne": null}`},
		{"id missing", "delete", ""},
		{"unknown action", "explode", byTitle["Buy milk"]},
	} {
		a := v.post("/home/", form("action", f.action, "id", f.id))
		if a.code != http.StatusBadRequest || !strings.Contains(a.body, "400 Bad Request") {
			t.Errorf("%s: got %d, want the 400 page\n%s", f.what, a.code, a.body)
		}
	}
	if n, err := s.todos().CountDocuments(context.Background(), bson.D{}); err != nil || n != 2 {
		t.Errorf("todos in the database: %d (%v), want 2", n, err)
	}
}

// TestIsolation: each user sees and changes only their own todos, even
// when they post the id of another user's.
func TestIsolation(t *testing.T) {
	s := startSite(t)
	alice := s.visitor(t)
	alice.register(t, "alice", alicePassword)
	alice.act(t, "action", "add", "title", "Alice's secret")
	items, _ := alice.list(t)
	if len(items) != 1 {
		t.Fatalf("alice's list: %v", items)
	}
	secret := items[0]

	bob := s.visitor(t)
	bob.register(t, "bob", bobPassword)
	bob.act(t, "action", "add", "title", "Bob's chore")
	items, _ = bob.list(t)
	if len(items) != 1 || items[0].Title != "Bob's chore" {
		t.Fatalf("bob's list: %v, want only his own todo", items)
	}
	for _, action := range []string{"done", "delete", "undo"} {
		bob.act(t, "action", action, "id", secret.ID)
		items, msgs := bob.list(t)
		if diff := cmp.Diff([]string{"warning: That todo is not on your list."}, msgs); diff != "" {
			t.Errorf("bob's %s on alice's todo: messages (-want +got):\n%s", action, diff)
		}
		if len(items) != 1 || items[0].Title != "Bob's chore" {
			t.Errorf("bob's list after %s on alice's todo: %v", action, items)
		}
	}

	// Alice's todo is untouched, in her list and in the database.
	items, _ = alice.list(t)
	if diff := cmp.Diff([]todo{secret}, items); diff != "" {
		t.Errorf("alice's list (-want +got):\n%s", diff)
	}
	id, err := bson.ObjectIDFromHex(secret.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Owner string `bson:"owner"`
		Title string `bson:"title"`
		Done  bool   `bson:"done"`
	}
	if err := s.todos().FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatalf("alice's todo in the database: %v", err)
	}
	if doc.Owner != "alice" || doc.Title != "Alice's secret" || doc.Done {
		t.Errorf("alice's todo in the database: %+v", doc)
	}
}

func TestUserValid(t *testing.T) {
	s := startSite(t)
	s.visitor(t).register(t, "alice", alicePassword)
	v := s.visitor(t)
	type reply struct {
		Username  string  `json:"username"`
		Available bool    `json:"available"`
		Reason    *string `json:"reason"`
	}
	tests := []struct {
		query     string
		username  string
		available bool
		reason    string
	}{
		{"username=bob", "bob", true, ""},
		{"username=alice", "alice", false, "That username is taken. Try another one."},
		{"username=Alice", "Alice", false, "That username is taken. Try another one."},
		{"username=bob%20smith", "bob smith", false, "Use only letters, digits and . _ - @ + in a username."},
		{"username=-bob", "-bob", false, "Start your username with a letter or a digit."},
		{"username=bob%40example.org", "bob@example.org", true, ""},
		{"", "", false, "Choose a username."},
	}
	for _, tt := range tests {
		a := v.get("/account/user_valid.json?" + tt.query)
		if a.code != 200 || !strings.HasPrefix(a.ctype, "application/json") {
			t.Errorf("%s: got %d %q, want 200 JSON", tt.query, a.code, a.ctype)
			continue
		}
		var got reply
		if err := json.Unmarshal([]byte(a.body), &got); err != nil {
			t.Errorf("%s: %v in %s", tt.query, err, a.body)
			continue
		}
		want := reply{Username: tt.username, Available: tt.available}
		if tt.reason != "" {
			want.Reason = &tt.reason
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
	}
	if a := v.post("/account/user_valid.json", form("username", "bob")); a.code != http.StatusMethodNotAllowed {
		t.Errorf("POST user_valid.json: got %d, want 405", a.code)
	}
}

// TestLoginThrottled: after repeated failures for one username the login
// page says so, and refuses even the right password for a while.
func TestLoginThrottled(t *testing.T) {
	s := startSite(t)
	s.visitor(t).register(t, "alice", alicePassword)
	v := s.visitor(t)
	const throttled = "Too many attempts for this username."
	attempts := 0
	for ; attempts < 10; attempts++ {
		a := v.post("/account/login.html", form("username", "alice", "password", "guess"+strings.Repeat("!", attempts)))
		expectPage(t, "a wrong password", a, `id="form-error"`)
		if strings.Contains(a.body, throttled) {
			break
		}
		if !strings.Contains(a.body, "Wrong username or password.") {
			t.Fatalf("attempt %d: no failure message\n%s", attempts+1, a.body)
		}
	}
	if attempts == 0 || attempts == 10 {
		t.Fatalf("throttled after %d failed attempts, want after a few", attempts)
	}
	a := v.post("/account/login.html", form("username", "alice", "password", alicePassword))
	expectPage(t, "the right password while throttled", a, throttled)
	expectRedirect(t, "GET /home/ while throttled", v.get("/home/"), http.StatusFound, "/account/login.html?next=%2Fhome%2F")
}

// TestRegisterRace: of parallel registrations of one name (in several
// cases), exactly one gets the account; every other sees the form again
// with "That username is taken", never an error page.
func TestRegisterRace(t *testing.T) {
	s := startSite(t)
	// As many as the password checks that may run at once on a machine
	// of two cores, so that none waits for a slot and is answered 503 on
	// a busy machine: the race is between the inserts.
	const n = 2
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		v := s.visitor(t)
		name := []string{"zoe", "Zoe", "ZOE"}[i%3]
		wg.Go(func() {
			answers[i] = v.post("/account/register.html", form("username", name, "password", alicePassword, "confirmation", alicePassword))
		})
	}
	wg.Wait()
	won := 0
	for i, a := range answers {
		if a.code == http.StatusFound {
			won++
			continue
		}
		expectPage(t, fmt.Sprintf("registration %d", i), a, "That username is taken.", `id="register-form"`)
	}
	if won != 1 {
		t.Errorf("%d registrations of zoe succeeded; want 1", won)
	}
}

// TestAccountEventsLogged: the example logs the account events its
// startup hook receives: a login from a new browser, but not a second
// login from the same one.
func TestAccountEventsLogged(t *testing.T) {
	s := startSite(t)
	v := s.visitor(t)
	v.register(t, "alice", alicePassword)
	event := "account event: new_device_login for alice"
	if n := strings.Count(s.log.String(), event); n != 1 {
		t.Fatalf("%d new-device events after registering (which logs in); want 1:\n%s", n, s.log.String())
	}
	v.post("/account/logout.html", nil)
	a := v.post("/account/login.html", form("username", "alice", "password", alicePassword))
	expectRedirect(t, "login", a, http.StatusFound, "/home/")
	if n := strings.Count(s.log.String(), event); n != 1 {
		t.Errorf("%d new-device events after a login from the same browser; want 1", n)
	}
	other := s.visitor(t)
	expectRedirect(t, "login elsewhere", other.post("/account/login.html", form("username", "alice", "password", alicePassword)), http.StatusFound, "/home/")
	if n := strings.Count(s.log.String(), event); n != 2 {
		t.Errorf("%d new-device events after a login from another browser; want 2:\n%s", n, s.log.String())
	}
}
