package trembling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
)

// testCost is the bcrypt cost the tests configure: bcrypt's lowest, for
// speed (Register accepts it; the floor of a real site is the CLI's).
const testCost = auth.LowestCost

// authSite is testdata/authsite (trembling's README hooks.conf) started
// on an engine of its own, with the mongo session store, the lowest bcrypt cost
// and a test clock.
type authSite struct {
	*testSite
	clk   *clock
	users *auth.Users
}

// startAuthSite starts testdata/authsite; edit changes its options.
func startAuthSite(t testing.TB, edit ...func(*siteOptions)) *authSite {
	t.Helper()
	clk := newClock()
	o := siteOptions{
		root: filepath.Join("testdata", "authsite"),
		cfg:  trembling.Config{Store: trembling.StoreMongo, BcryptCost: testCost, Now: clk.Now},
	}
	for _, e := range edit {
		e(&o)
	}
	if o.uri == "" {
		o.uri = engineURI(t)
	}
	s := startSite(t, o)
	users := s.tr.Users(s.w)
	if users == nil {
		t.Fatal("Users(website) = nil after Start")
	}
	return &authSite{testSite: s, clk: clk, users: users}
}

// createUser makes an account from Go.
func (s *authSite) createUser(t testing.TB, username, password string) auth.User {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, err := s.users.Create(ctx, username, password, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// user reads an account from Go.
func (s *authSite) user(t testing.TB, username string) auth.User {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, err := s.users.Get(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login posts the login form of the authsite, with next in the query
// string when it is not "".
func login(t testing.TB, c *http.Client, s *authSite, username, password, next string) result {
	t.Helper()
	path := "/account/login.html"
	if next != "" {
		path += "?next=" + url.QueryEscape(next)
	}
	return post(t, c, s.testSite, path, url.Values{"username": {username}, "password": {password}})
}

// mustLogin logs c in and checks that it worked.
func mustLogin(t testing.TB, c *http.Client, s *authSite, username, password string) {
	t.Helper()
	r := login(t, c, s, username, password, "")
	if r.code != http.StatusFound || r.header.Get("Location") != "/home/" {
		t.Fatalf("login as %s: got %v %v, want 302 to /home/", username, r, r.header)
	}
}

// whoami returns what /whoami.txt says of c: "who=NAME template=NAME
// authenticated=true" or "who=anonymous template= authenticated=false".
func whoami(t testing.TB, c *http.Client, s *authSite) string {
	t.Helper()
	r := get(t, c, s.testSite, "/whoami.txt")
	if r.code != http.StatusOK {
		t.Fatalf("whoami: %v", r)
	}
	return r.body
}

func loggedInAs(name string) string {
	return "who=" + name + " template=" + name + " authenticated=true"
}

const anonymous = "who=anonymous template= authenticated=false"

// clientWithCookie returns a new client whose jar holds session_key=value,
// as an attacker replaying a stolen or old cookie.
func clientWithCookie(t testing.TB, s *testSite, value string) *http.Client {
	t.Helper()
	c := newClient(t, s)
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "session_key", Value: value, Path: "/"}})
	return c
}

// doHeader sends a request with extra headers.
func doHeader(t testing.TB, c *http.Client, s *testSite, method, path string, form url.Values, h http.Header) result {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{code: resp.StatusCode, body: strings.TrimSpace(string(b)), header: resp.Header}
}

// decode parses a JSON response body.
func decode(t testing.TB, r result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	return m
}

func TestAuthHookMustComeAfterSessionHook(t *testing.T) {
	t.Parallel()
	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory}); err != nil {
		t.Fatal(err)
	}
	_, err := aspengo.New(aspengo.Config{Root: filepath.Join("testdata", "authmisordered"), Registry: reg, Logger: quiet})
	if err == nil {
		t.Fatal("New accepted trembling.auth:inbound before trembling.session:inbound")
	}
	want := filepath.Join("testdata", "authmisordered", ".aspen", "hooks.conf") + ":6: trembling.auth:inbound must come after trembling.session:inbound"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant it to contain\n%s", err, want)
	}
}

func TestRegisterBcryptCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cost int
		ok   bool
	}{
		{0, true}, {auth.LowestCost, true}, {auth.MinCost, true}, {auth.MaxCost, true},
		{auth.LowestCost - 1, false}, {-1, false}, {auth.MaxCost + 1, false},
	} {
		_, err := trembling.Register(aspengo.NewRegistry(), trembling.Config{BcryptCost: tc.cost})
		if (err == nil) != tc.ok {
			t.Errorf("Register with BcryptCost %d: error %v, want ok=%v", tc.cost, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "bcrypt cost") {
			t.Errorf("Register with BcryptCost %d: error %q does not mention the bcrypt cost", tc.cost, err)
		}
	}
}

// TestBcryptCostFromConfig reads the stored hash: Config.BcryptCost is
// the cost of new hashes.
func TestBcryptCostFromConfig(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t, func(o *siteOptions) { o.cfg.BcryptCost = auth.MinCost + 1 })
	r := post(t, newClient(t, s.testSite), s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {"secret-password"}})
	if r.code != 200 {
		t.Fatalf("create: %v", r)
	}
	db := s.conn.Client().Database("authsite")
	var doc struct {
		Hash string `bson:"password_hash"`
	}
	if err := db.Collection(auth.UsersCollection).FindOne(t.Context(), bson.D{{Key: "username", Value: "alice"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	cost, err := auth.HashCost(doc.Hash)
	if err != nil || cost != auth.MinCost+1 {
		t.Errorf("stored hash cost = %d, %v; want %d", cost, err, auth.MinCost+1)
	}
}

func TestRequestUser(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	c := newClient(t, s.testSite)
	r := get(t, c, s.testSite, "/me.json")
	want := map[string]any{"authenticated": false, "user": nil, "attrs": []any{}, "types": map[string]any{}, "session": []any{}}
	if diff := cmp.Diff(want, decode(t, r)); diff != "" {
		t.Errorf("anonymous /me.json (-want +got):\n%s", diff)
	}

	created := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"alice"}, "password": {"secret-password"}, "email": {"alice@example.com"}})
	if created.code != 200 {
		t.Fatalf("create: %v", created)
	}
	cm := decode(t, created)
	if cm["exists"] != true {
		t.Errorf("user_exists after create_user = %v", cm["exists"])
	}
	cu, _ := cm["user"].(map[string]any)
	if cu["username"] != "alice" || cu["email"] != "alice@example.com" || cu["last_login"] != nil || cu["is_active"] != true {
		t.Errorf("create_user returned %v", cu)
	}

	get(t, c, s.testSite, "/cart.json?item=book")
	mustLogin(t, c, s, "alice", "secret-password")
	u := s.user(t, "alice")
	m := decode(t, get(t, c, s.testSite, "/me.json"))
	want = map[string]any{
		"authenticated": true,
		"user": map[string]any{
			"username":   "alice",
			"email":      "alice@example.com",
			"is_active":  true,
			"id":         "alice",
			"created_at": u.CreatedAt.UTC().Format(time.RFC3339Nano),
			"last_login": u.LastLogin.UTC().Format(time.RFC3339Nano),

			"must_change_password": false,
		},
		"attrs": []any{"created_at", "email", "id", "is_active", "last_login", "must_change_password", "username"},
		"types": map[string]any{
			"created_at": "time.time", "email": "string", "id": "string",
			"is_active": "bool", "last_login": "time.time", "username": "string",
			"must_change_password": "bool",
		},
		// The login is kept out of request.session.
		"session": []any{"cart"},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("logged-in /me.json (-want +got):\n%s", diff)
	}
	if u.LastLogin.IsZero() {
		t.Error("last_login not recorded")
	}
	if got := whoami(t, c, s); got != loggedInAs("alice") {
		t.Errorf("whoami = %q", got)
	}
}

func TestUserExists(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	for name, want := range map[string]bool{
		"alice": true, "Alice": true, "ALICE": true, "bob": false, "": false, " alice": false, "$ne": false,
	} {
		r := get(t, c, s.testSite, "/exists.json?username="+url.QueryEscape(name))
		if r.code != 200 || decode(t, r)["exists"] != want {
			t.Errorf("user_exists(%q): %v, want %v", name, r, want)
		}
	}
}

// TestAccountErrors: what a page passes to create_user and set_password
// is refused with a clear error and a 4xx status, never a crash or a
// truncated password.
func TestAccountErrors(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		code       int
		log        string
	}{
		{"duplicate", "/admin/create.json", url.Values{"username": {"alice"}, "password": {"other-password"}}, 409,
			`create_user: auth: user already exists: "alice"`},
		{"invalid username", "/admin/create.json", url.Values{"username": {"-alice"}, "password": {"secret-password"}}, 400,
			`create_user: auth: invalid username: "-alice" does not start with a letter or a digit`},
		{"empty password", "/admin/create.json", url.Values{"username": {"bob"}, "password": {""}}, 400,
			"create_user: auth: password is empty"},
		{"129 characters", "/admin/create.json", url.Values{"username": {"bob"}, "password": {strings.Repeat("p", 129)}}, 400,
			"create_user: auth: password is longer than 128 characters (it has 129)"},
		{"11 characters of UTF-8", "/admin/create.json", url.Values{"username": {"bob"}, "password": {strings.Repeat("é", 11)}}, 400,
			"create_user: auth: password is shorter than 12 characters (it has 11)"},
		{"common password", "/admin/create.json", url.Values{"username": {"bob"}, "password": {"qwerty123456"}}, 400,
			"create_user: auth: password is one of the most common passwords"},
		{"invalid email", "/admin/create.json", url.Values{"username": {"bob"}, "password": {"secret-password"}, "email": {"bob"}}, 400,
			`create_user: auth: invalid e-mail address: "bob" is not of the form name@domain`},
		{"set_password unknown user", "/admin/setpw.json", url.Values{"username": {"carol"}, "password": {"secret-password"}}, 404,
			`set_password: auth: no such user: "carol"`},
		{"set_password 129 characters", "/admin/setpw.json", url.Values{"username": {"alice"}, "password": {strings.Repeat("p", 129)}}, 400,
			"set_password: auth: password is longer than 128 characters (it has 129)"},
		{"set_password short", "/admin/setpw.json", url.Values{"username": {"alice"}, "password": {"short"}}, 400,
			"set_password: auth: password is shorter than 12 characters (it has 5)"},
		{"set_password empty", "/admin/setpw.json", url.Values{"username": {"alice"}, "password": {""}}, 400,
			"set_password: auth: password is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, c, s.testSite, tc.path, tc.form)
			if r.code != tc.code {
				t.Errorf("got %v, want %d", r, tc.code)
			}
			if !s.logged(tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, s.log.String())
			}
		})
	}
	// Nothing was created, and alice's password is unchanged.
	if ok, err := s.users.Exists(t.Context(), "bob"); ok || err != nil {
		t.Errorf("bob exists = %v, %v", ok, err)
	}
	mustLogin(t, newClient(t, s.testSite), s, "alice", "secret-password")
}

func TestLoginURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		root     string
		loginURL string // Config.LoginURL
		path     string
		want     string
	}{
		{"default", "authsite", "", "/home/", "/account/login.html?next=%2Fhome%2F"},
		{"config", "authsite", "/sign-in/", "/home/", "/sign-in/?next=%2Fhome%2F"},
		{"argument wins, query kept", "authsite", "/sign-in/", "/private.json?a=1", "/other/login.html?lang=en&next=%2Fprivate.json%3Fa%3D1"},
		{"website.login_url wins over config", "authurl", "/sign-in/", "/required.json", "/signin.html?next=%2Frequired.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startAuthSite(t, func(o *siteOptions) {
				o.root = filepath.Join("testdata", tc.root)
				o.cfg.LoginURL = tc.loginURL
			})
			r := get(t, newClient(t, s.testSite), s.testSite, tc.path)
			if r.code != http.StatusFound || r.header.Get("Location") != tc.want {
				t.Errorf("GET %s: %v Location %q, want 302 to %q", tc.path, r, r.header.Get("Location"), tc.want)
			}
		})
	}
}

func TestLogoutKeepsMessagesAndStartsNewSession(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	r := post(t, c, s.testSite, "/account/logout.html", url.Values{})
	if r.code != http.StatusFound || r.header.Get("Location") != "/" {
		t.Fatalf("logout: %v", r)
	}
	// The welcome message of the login (never displayed) and the logout
	// message both wait in the new session.
	r = get(t, c, s.testSite, "/")
	want := `<ul><li class="success">Welcome back, alice &lt;b&gt;&amp;&lt;/b&gt;</li><li class="info">You are logged out.</li></ul>`
	if r.body != want {
		t.Errorf("after logout: got %q, want %q", r.body, want)
	}
	if got := whoami(t, c, s); got != anonymous {
		t.Errorf("whoami after logout = %q", got)
	}
	if r := get(t, c, s.testSite, "/account/logout.html"); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET logout: %v, want 405", r)
	}
}

// TestNoDatabase: a site with the auth hook but no website.db starts (the
// site may not need accounts until the hook runs); every request then
// fails with an error that says what to set.
func TestNoDatabase(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{root: filepath.Join("testdata", "authnodb")})
	if s.tr.Users(s.w) != nil {
		t.Error("Users without website.db is not nil")
	}
	r := get(t, newClient(t, s), s, "/")
	if r.code != 500 {
		t.Errorf("got %v, want 500", r)
	}
	if want := `user accounts need website.db: set it in a startup hook (website.db = connect(\"mydb\"))`; !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, s.log.String())
	}
}

func TestBuiltinsWithoutAuthHook(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{root: filepath.Join("testdata", "authnohook")})
	for path, want := range map[string]string{
		"/required.html": "login_required needs the hook trembling.auth:inbound in hooks.conf",
		"/user.html":     "request.user needs the hook trembling.auth:inbound in hooks.conf",
		"/login.html":    "login: trembling: user accounts need website.db",
	} {
		r := get(t, newClient(t, s), s, path)
		if r.code != 500 {
			t.Errorf("GET %s: %v, want 500", path, r)
		}
		if !s.logged(want) {
			t.Errorf("GET %s: log lacks %q", path, want)
		}
	}
}

// TestAccountsDatabaseDown: with the session store in memory and the
// accounts' database stopped, a logged-in request is a 503 (not a
// logout), an anonymous one is served, and once the database is back the
// session is still logged in.
func TestAccountsDatabaseDown(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	dir := filepath.Join(t.TempDir(), "data")
	e1 := enginetest.Engine(t, dir)
	s := startAuthSite(t, func(o *siteOptions) {
		o.uri = e1.URI()
		o.dbTimeout = timeout
		o.cfg.Store = trembling.StoreMemory
		o.cfg.StoreTimeout = timeout
	})
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := get(t, c, s.testSite, "/whoami.txt"); r.code != 503 {
		t.Errorf("logged-in request with the database down: %v, want 503", r)
	}
	// A page that does not ask for the user does not need the database.
	if r := get(t, c, s.testSite, "/cart.json?item=book"); r.code != 200 {
		t.Errorf("logged-in request that uses only the session, with the database down: %v, want 200", r)
	}
	if r := login(t, newClient(t, s.testSite), s, "alice", "secret-password", ""); r.code != 503 {
		t.Errorf("login with the database down: %v, want 503", r)
	}
	if got := whoami(t, newClient(t, s.testSite), s); got != anonymous {
		t.Errorf("anonymous request with the database down: %q", got)
	}
	if !s.logged("database unavailable: accounts: reading the logged-in account") {
		t.Errorf("log lacks the database error:\n%s", s.log.String())
	}

	enginetest.Engine(t, dir)
	deadline := time.Now().Add(time.Minute)
	for {
		r := get(t, c, s.testSite, "/whoami.txt")
		if r.code == 200 {
			if r.body != loggedInAs("alice") {
				t.Fatalf("after recovery: %v", r)
			}
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("not recovered: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUserOf builds a site whose Go builtin go_user(request) shows what
// UserOf gives Go code: the hook's user, and the new one right after a
// login in the same request.
func TestUserOf(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{
		".aspen/hooks.conf":    "database:startup\n^L\n" + trembling.HookInbound + "\n" + trembling.HookAuth + "\n^L\n^L\n^L\n" + trembling.HookOutbound + "\n",
		".aspen/database.star": "def startup(website):\n    website.db = connect(\"userof\")\n",
		"who.txt.spt":          "who = go_user(request)\n[---]\n{{ .who }}\n",
		"login.txt.spt":        "before = go_user(request)\nok = login(request, \"alice\", \"secret-password\")\nafter = go_user(request)\n[---]\n{{ .before }} {{ .ok }} {{ .after }}\n",
	}
	for name, text := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := database.New(t.Context(), engineURI(t), database.WithTimeout(enginetest.OperationTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	reg := aspengo.NewRegistry()
	if err := reg.Builtin("connect", conn.Builtin()); err != nil {
		t.Fatal(err)
	}
	goUser := func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var reqv starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv); err != nil {
			return nil, err
		}
		var ra aspengo.RequestArg
		if err := ra.Unpack(reqv); err != nil {
			return nil, err
		}
		r := ra.Request
		u, ok := trembling.UserOf(r)
		if !ok {
			return starlark.String("-"), nil
		}
		return starlark.String(u.Username), nil
	}
	if err := reg.Builtin("go_user", starlark.NewBuiltin("go_user", goUser)); err != nil {
		t.Fatal(err)
	}
	tr, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory, BcryptCost: testCost})
	if err != nil {
		t.Fatal(err)
	}
	w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Shutdown(context.Background()) }) // t.Context is done by then
	if _, err := tr.Users(w).Create(ctx, "alice", "secret-password", ""); err != nil {
		t.Fatal(err)
	}
	serve := func(path, cookie string) (string, string) {
		req := httptest.NewRequest("GET", "http://127.0.0.1"+path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "session_key", Value: cookie})
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		var value string
		if ck := sessionCookie(rec.Result().Header); ck != nil {
			value = ck.Value
		}
		return strings.TrimSpace(rec.Body.String()), value
	}
	if got, _ := serve("/who.txt", ""); got != "-" {
		t.Errorf("anonymous: go_user = %q, want -", got)
	}
	got, cookie := serve("/login.txt", "")
	if got != "- true alice" {
		t.Errorf("login page: %q, want %q", got, "- true alice")
	}
	if got, _ := serve("/who.txt", cookie); got != "alice" {
		t.Errorf("next request: go_user = %q, want alice", got)
	}
}

// copySite copies testdata/authsite to a new directory with extra files
// (path → content) and returns it.
func copySite(t testing.TB, extra map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "authsite"))); err != nil {
		t.Fatal(err)
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestCreateUserIfFree: create_user(..., fail_if_taken=False) gives None
// for a name taken in any case, so that a registration page can tell the
// loser of a race; without it the request fails with 409.
func TestCreateUserIfFree(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{
		"register.json.spt": "u = create_user(request.body.one(\"username\"), \"secret-password\", fail_if_taken=False)\n" +
			"response.body = {\"created\": u != None}\n",
	})
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	c := newClient(t, s.testSite)
	for _, tc := range []struct {
		name string
		want bool
	}{{"Zed", true}, {"zed", false}, {"ZED", false}, {"amy", true}} {
		r := post(t, c, s.testSite, "/register.json", url.Values{"username": {tc.name}})
		if r.code != 200 || decode(t, r)["created"] != tc.want {
			t.Errorf("register %s: %v; want created=%v", tc.name, r, tc.want)
		}
	}
	if r := post(t, c, s.testSite, "/admin/create.json", url.Values{"username": {"zED"}, "password": {"x-long-enough-pw"}}); r.code != http.StatusConflict {
		t.Errorf("create_user of a taken name without fail_if_taken=False: %v; want 409", r)
	}
}

// TestUserExistsLimited: one client may ask user_exists in at most
// website.user_exists_per_minute requests a minute; then 429 with
// Retry-After until the next minute. Several calls in one request count
// once.
func TestUserExistsLimited(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{
		".aspen/database.star": "def startup(website):\n    website.db = connect(\"authsite\")\n    website.user_exists_per_minute = 3\n",
		"many.json.spt":        "response.body = {\"n\": len([n for n in [\"a\", \"b\", \"c\", \"d\", \"e\"] if user_exists(n)])}\n",
	})
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	s.createUser(t, "alice", "secret-password")
	// Start at the beginning of a minute, so that the test does not
	// cross one.
	now := s.clk.Now()
	s.clk.Add(now.Truncate(time.Minute).Add(time.Minute).Sub(now))
	c := newClient(t, s.testSite)
	if r := get(t, c, s.testSite, "/many.json"); r.code != 200 {
		t.Fatalf("five lookups in one request: %v", r)
	}
	for i := range 2 {
		if r := get(t, c, s.testSite, "/exists.json?username=alice"); r.code != 200 || decode(t, r)["exists"] != true {
			t.Fatalf("lookup %d: %v", i+2, r)
		}
	}
	r := get(t, newClient(t, s.testSite), s.testSite, "/exists.json?username=alice")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("the fourth request from one address: %v Retry-After %q; want 429 with Retry-After", r, r.header.Get("Retry-After"))
	}
	if r := get(t, c, s.testSite, "/exists.json?username=a%20b"); r.code != 200 {
		t.Errorf("an invalid name is answered without a lookup: %v", r)
	}
	s.clk.Add(time.Minute)
	if r := get(t, c, s.testSite, "/exists.json?username=alice"); r.code != 200 {
		t.Errorf("the next minute: %v", r)
	}
}

// TestLazyUser: the auth hook reads nothing; a request reads its user at
// most once, however often the page, its template, login_required and Go
// code ask, and a page or file that asks nothing costs no read.
func TestLazyUser(t *testing.T) {
	t.Parallel()
	root := copySite(t, map[string]string{
		"style.css": "body{}",
		"twice.txt.spt": "a = request.user\nb = request.authenticated\nlogin_required(request)\nc = request.user.username if request.authenticated else \"\"\n" +
			"[---]\n{{ .request.user.username }} {{ .request.authenticated }} {{ .a.username }} {{ .c }}\n",
	})
	s := startAuthSite(t, func(o *siteOptions) { o.root = root })
	s.createUser(t, "alice", "secret-password")
	c := newClient(t, s.testSite)
	mustLogin(t, c, s, "alice", "secret-password")
	reads := func() int64 { return trembling.UserReads(s.tr, s.w) }

	before := reads()
	for _, path := range []string{"/style.css", "/cart.json?item=book", "/exists.json?username=bob"} {
		if r := get(t, c, s.testSite, path); r.code != 200 {
			t.Fatalf("GET %s: %v", path, r)
		}
	}
	if n := reads() - before; n != 0 {
		t.Errorf("pages that use neither request.user nor request.authenticated read the account %d times", n)
	}
	before = reads()
	if r := get(t, c, s.testSite, "/twice.txt"); r.code != 200 || r.body != "alice true alice alice" {
		t.Fatalf("twice.txt: %v", r)
	}
	if n := reads() - before; n != 1 {
		t.Errorf("a page that asks six times read the account %d times; want 1", n)
	}
	// The fingerprint is still checked when the user is read.
	if err := s.users.SetPassword(t.Context(), "alice", "changed-password"); err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, c, s); got != anonymous {
		t.Errorf("after a password change elsewhere: %q", got)
	}
}
