package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// userRun runs aspengo user with args and returns its exit code and output.
func userRun(t *testing.T, stdin string, prompt passwordPrompt, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := userCmd(t.Context(), append(args, "--bcrypt-cost", "4"), func(string) string { return "" }, strings.NewReader(stdin), &stdout, &stderr, prompt)
	return code, stdout.String(), stderr.String()
}

// answers is a terminal that answers the password prompts in turn.
func answers(a ...string) passwordPrompt {
	return func(string) ([]byte, error) {
		if len(a) == 0 {
			return nil, errors.New("no more answers")
		}
		s := a[0]
		a = a[1:]
		return []byte(s), nil
	}
}

func TestUserCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	site := []string{"--root", "testdata/counter", "--data", data}
	steps := []struct {
		name   string
		stdin  string
		prompt passwordPrompt
		args   []string
		code   int
		out    string // in stdout
		errOut string // in stderr
	}{
		{name: "add from stdin", stdin: "s3cret-password\n", args: []string{"add", "alice", "--email", "alice@example.com", "--password-stdin"}, out: "added user alice"},
		{name: "add from the terminal", prompt: answers("pw-of-bob-long", "pw-of-bob-long"), args: []string{"add", "bob"}, out: "added user bob"},
		{name: "terminal passwords differ", prompt: answers("one-password", "another-one"), args: []string{"add", "carol"}, code: 1, errOut: "do not match"},
		{name: "no terminal, no --password-stdin", args: []string{"add", "carol"}, code: 1, errOut: "--password-stdin"},
		{name: "duplicate", stdin: "whatever-password\n", args: []string{"add", "alice", "--password-stdin"}, code: 1, errOut: "exists"},
		{name: "password too long", stdin: strings.Repeat("x", 129) + "\n", args: []string{"add", "dave", "--password-stdin"}, code: 1, errOut: "longer than 128 characters"},
		{name: "password too short", stdin: "short-pw\n", args: []string{"add", "dave", "--password-stdin"}, code: 1, errOut: "shorter than 12 characters"},
		{name: "common password", stdin: "qwertyqwerty\n", args: []string{"add", "dave", "--password-stdin"}, code: 1, errOut: "most common passwords"},
		{name: "empty password", stdin: "\n", args: []string{"add", "dave", "--password-stdin"}, code: 1, errOut: "empty"},
		{name: "bad username", stdin: "pw-pw-pw\n", args: []string{"add", "no spaces", "--password-stdin"}, code: 1, errOut: "username"},
		{name: "list", args: []string{"list"}, out: "alice     alice@example.com  true"},
		{name: "disable", args: []string{"disable", "alice"}, out: "disabled user alice"},
		{name: "list shows disabled", args: []string{"list"}, out: "alice     alice@example.com  false"},
		{name: "enable", args: []string{"enable", "alice"}, out: "enabled user alice"},
		{name: "passwd", stdin: "new-secret-password\n", args: []string{"passwd", "alice", "--password-stdin"}, out: "changed the password of alice"},
		{name: "passwd of a missing user", stdin: "new-secret-password\n", args: []string{"passwd", "zed", "--password-stdin"}, code: 1, errOut: "zed"},
		{name: "delete", args: []string{"delete", "bob"}, out: "deleted user bob"},
		{name: "delete again", args: []string{"delete", "bob"}, code: 1, errOut: "bob"},
		{name: "missing username", args: []string{"add"}, code: 2, errOut: "USERNAME"},
		{name: "unknown verb", args: []string{"frob"}, code: 2, errOut: "unknown command"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			args := st.args
			if st.args[0] != "frob" {
				args = append(append([]string{}, st.args...), site...)
			}
			code, out, errOut := userRun(t, st.stdin, st.prompt, args...)
			if code != st.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, st.code, out, errOut)
			}
			if !strings.Contains(out, st.out) {
				t.Errorf("stdout lacks %q:\n%s", st.out, out)
			}
			if !strings.Contains(errOut, st.errOut) {
				t.Errorf("stderr lacks %q:\n%s", st.errOut, errOut)
			}
		})
	}
	// The counter site's startup hook sets website.db = connect("counter");
	// a site without one uses the default database, which has no users.
	_, out, _ := userRun(t, "", nil, "list", "--root", "testdata/plain", "--data", data)
	if strings.Contains(out, "alice") {
		t.Errorf("the default database lists alice, so the startup hook's website.db was not used:\n%s", out)
	}
}

// TestUserWhileServing adds a user while aspengo serve owns the data
// directory: the command goes through the running server.
func TestUserWhileServing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	base, stop := runServe(t, "--root", "testdata/counter", "--data", data, "--bcrypt-cost", "4")
	defer stop()
	if code, out, errOut := userRun(t, "pw-of-erin-long\n", nil, "add", "erin", "--password-stdin", "--root", "testdata/counter", "--data", data); code != 0 {
		t.Fatalf("add while serving: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := userRun(t, "", nil, "list", "--root", "testdata/counter", "--data", data)
	if code != 0 || !strings.Contains(out, "erin") {
		t.Fatalf("list while serving: exit %d\n%s%s", code, out, errOut)
	}
	// The running site sees the new account at once.
	resp, err := noFollow.PostForm(base+"/login.html", url.Values{"username": {"erin"}, "password": {"pw-of-erin-long"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ok=true user=erin") {
		t.Errorf("login right after user add: %d %s", resp.StatusCode, body)
	}
}

// TestUserCommandsEndSessionsWhileServing: serve keeps sessions and
// accounts in an exact cache on its own embedded engine; aspengo user
// disable, passwd and delete, run as other processes through its socket,
// still take effect at the next request.
func TestUserCommandsEndSessionsWhileServing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	site := []string{"--root", "testdata/counter", "--data", data}
	base, stop := runServe(t, append(site, "--bcrypt-cost", "4")...)
	defer stop()
	if code, out, errOut := userRun(t, "erin-pw-2026-x\n", nil, append([]string{"add", "erin", "--password-stdin"}, site...)...); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	login := func(password string) {
		t.Helper()
		resp, err := c.PostForm(base+"/login.html", url.Values{"username": {"erin"}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "ok=true user=erin") {
			t.Fatalf("login: %s", b)
		}
	}
	const in, out = "<p>user=erin</p>", "<p>user=</p>"
	login("erin-pw-2026-x")
	for range 3 { // the later reads come from the cache
		if got := get("/whoami.html"); got != in {
			t.Fatalf("after login: %s, want %s", got, in)
		}
	}
	steps := []struct {
		args  []string
		stdin string
		relog string // the password to log in with afterwards, if any
	}{
		{args: []string{"disable", "erin"}},
		{args: []string{"enable", "erin"}, relog: "erin-pw-2026-x"},
		{args: []string{"passwd", "erin", "--password-stdin"}, stdin: "erin-new-pw-2026\n", relog: "erin-new-pw-2026"},
		{args: []string{"delete", "erin"}},
	}
	for _, st := range steps {
		if code, o, e := userRun(t, st.stdin, nil, append(st.args, site...)...); code != 0 {
			t.Fatalf("user %s: exit %d\n%s%s", st.args[0], code, o, e)
		}
		if got := get("/whoami.html"); got != out && st.args[0] != "enable" {
			t.Errorf("after user %s: %s, want %s", st.args[0], got, out)
		}
		if st.relog != "" {
			login(st.relog)
			if got := get("/whoami.html"); got != in {
				t.Fatalf("after user %s and a login: %s, want %s", st.args[0], got, in)
			}
		}
	}
}

// TestUserBcryptCostFloor: the command refuses a cost below the policy
// floor, although package auth accepts lower ones (for tests).
func TestUserBcryptCostFloor(t *testing.T) {
	if policyBcryptCost != 10 {
		t.Errorf("the commands' bcrypt cost floor is %d; want 10", policyBcryptCost)
	}
	for _, cost := range []string{fmt.Sprint(minBcryptCost - 1), "3", "32"} {
		var stdout, stderr bytes.Buffer
		code := userCmd(t.Context(), []string{"list", "--bcrypt-cost", cost, "--root", "testdata/counter", "--data", t.TempDir()},
			func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr, nil)
		if code != 2 || !strings.Contains(stderr.String(), fmt.Sprintf("bcrypt cost %s is outside %d..31", cost, minBcryptCost)) {
			t.Errorf("--bcrypt-cost %s: exit %d, stderr %q; want 2 and the range", cost, code, stderr.String())
		}
	}
}

// TestUserListWarnsOfCaseConflicts: accounts of an older version that
// differ only in case are listed with a warning, and neither is merged.
func TestUserListWarnsOfCaseConflicts(t *testing.T) {
	ctx := t.Context()
	client, err := mongo.Connect(options.Client().ApplyURI(enginetest.Engine(t, t.TempDir()).URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(t.Context())
	db := client.Database("conflicts")
	for _, name := range []string{"Ann", "ann"} {
		if _, err := db.Collection(auth.UsersCollection).InsertOne(ctx, bson.D{
			{Key: "_id", Value: bson.NewObjectID()}, {Key: "username", Value: name}, {Key: "is_active", Value: true},
		}); err != nil {
			t.Fatal(err)
		}
	}
	users, err := auth.NewUsers(db, auth.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runUserVerb(ctx, users, userOp{verb: "list"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "warning: the accounts Ann, ann differ only in case"; !strings.Contains(out.String(), want) {
		t.Errorf("list output lacks %q:\n%s", want, out.String())
	}
	if n, err := db.Collection(auth.UsersCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 2 {
		t.Errorf("%d accounts, %v; want both kept", n, err)
	}
}

// TestUserTemporaryAndEvents: --temporary marks the account, and passwd,
// disable and enable call the site's website.on_account_event.
func TestUserTemporaryAndEvents(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/counter")); err != nil {
		t.Fatal(err)
	}
	hook := `def on_account_event(event):
    print("account event %s user=%s temporary=%s by=%s" % (event["type"], event["username"], event.get("temporary"), event["by"]))

def startup(website):
    website.db = connect("counter")
    website.on_account_event = on_account_event
`
	if err := os.WriteFile(filepath.Join(root, ".aspen", "database.star"), []byte(hook), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	site := []string{"--root", root, "--data", data}
	for _, st := range []struct {
		stdin  string
		args   []string
		out    string
		errOut string
	}{
		{"temporary-password\n", []string{"add", "tina", "--password-stdin", "--temporary"}, "tina must choose a new password at their first login", ""},
		{"another-temporary\n", []string{"passwd", "tina", "--password-stdin", "--temporary"}, "tina must choose a new password at their next login", "account event password_reset user=tina temporary=True by=operator"},
		{"", []string{"disable", "tina"}, "disabled user tina", "account event disabled user=tina temporary=None by=operator"},
		{"", []string{"enable", "tina"}, "enabled user tina", "account event enabled user=tina temporary=None by=operator"},
	} {
		code, out, errOut := userRun(t, st.stdin, nil, append(st.args, site...)...)
		if code != 0 || !strings.Contains(out, st.out) || !strings.Contains(errOut, st.errOut) {
			t.Errorf("user %v: exit %d\nstdout: %s\nstderr: %s\nwant %q and %q", st.args, code, out, errOut, st.out, st.errOut)
		}
	}

	// What the flag does to the account.
	ctx := t.Context()
	client, err := mongo.Connect(options.Client().ApplyURI(enginetest.Engine(t, t.TempDir()).URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(t.Context())
	users, err := auth.NewUsers(client.Database("temporary"), auth.Options{Cost: auth.LowestCost})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []userOp{
		{verb: "add", username: "ann", password: "first-password", temporary: true},
		{verb: "add", username: "bea", password: "first-password"},
	} {
		if err := runUserVerb(ctx, users, op, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when, name string, want bool) {
		t.Helper()
		u, err := users.Get(ctx, name)
		if err != nil || u.MustChangePassword != want {
			t.Errorf("%s: %s must change password = %v, %v; want %v", when, name, u.MustChangePassword, err, want)
		}
	}
	check("add --temporary", "ann", true)
	check("add", "bea", false)
	if err := runUserVerb(ctx, users, userOp{verb: "passwd", username: "bea", password: "second-password", temporary: true}, io.Discard); err != nil {
		t.Fatal(err)
	}
	check("passwd --temporary", "bea", true)
	if err := runUserVerb(ctx, users, userOp{verb: "passwd", username: "bea", password: "third-password"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	check("passwd", "bea", false)
}
