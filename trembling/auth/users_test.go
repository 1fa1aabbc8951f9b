package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

var ignoreHash = cmpopts.IgnoreUnexported(auth.User{})

func TestUserLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	u := newUsers(t, enginetest.DB(t), auth.Options{Now: clk.Now})

	created, err := u.Create(ctx, "bob", "hunter2-hunter2", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := auth.User{
		ID:                created.ID,
		Username:          "bob",
		Email:             "bob@example.com",
		IsActive:          true,
		CreatedAt:         clk.Now(),
		PasswordChangedAt: clk.Now(),
	}
	if diff := cmp.Diff(want, created, ignoreHash); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}
	if created.ID != "bob" {
		t.Errorf("Create returned ID %q; want the canonical username", created.ID)
	}
	clk.Advance(time.Minute)
	mustCreate(t, u, "alice", "pw-alice-long-enough")

	got, err := u.Get(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreHash); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	list, err := u.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Username)
	}
	if diff := cmp.Diff([]string{"alice", "bob"}, names); diff != "" {
		t.Errorf("List names (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name string
		want bool
	}{{"alice", true}, {"bob", true}, {"Bob", true}, {"BOB", true}, {"carol", false}, {"b ob", false}} {
		if ok, err := u.Exists(ctx, tc.name); err != nil || ok != tc.want {
			t.Errorf("Exists(%q) = %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}

	// Disable and enable.
	if err := u.SetActive(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if got, err := u.Get(ctx, "bob"); err != nil || got.IsActive {
		t.Errorf("after SetActive(false): IsActive=%v, %v", got.IsActive, err)
	}
	if _, err := u.Authenticate(ctx, "bob", "hunter2-hunter2"); err != auth.ErrInvalidCredentials {
		t.Errorf("Authenticate disabled user: %v; want ErrInvalidCredentials", err)
	}
	if err := u.SetActive(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	logged, err := u.Authenticate(ctx, "bob", "hunter2-hunter2")
	if err != nil {
		t.Fatalf("Authenticate re-enabled user: %v", err)
	}
	if !logged.LastLogin.Equal(clk.Now()) {
		t.Errorf("Authenticate: LastLogin %v; want %v", logged.LastLogin, clk.Now())
	}
	if got, err := u.Get(ctx, "bob"); err != nil || !got.LastLogin.Equal(clk.Now()) || !got.IsActive {
		t.Errorf("Get after login: LastLogin %v, IsActive %v, %v; want %v, true", got.LastLogin, got.IsActive, err, clk.Now())
	}

	// Delete.
	if err := u.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Get(ctx, "bob"); !errors.Is(err, auth.ErrNoUser) {
		t.Errorf("Get deleted user: %v; want ErrNoUser", err)
	}
	if ok, err := u.Exists(ctx, "bob"); err != nil || ok {
		t.Errorf("Exists(deleted) = %v, %v", ok, err)
	}
	if _, err := u.Authenticate(ctx, "bob", "hunter2-hunter2"); err != auth.ErrInvalidCredentials {
		t.Errorf("Authenticate deleted user: %v; want ErrInvalidCredentials", err)
	}

	// Operations on a missing user.
	for name, err := range map[string]error{
		"Delete":      u.Delete(ctx, "bob"),
		"SetActive":   u.SetActive(ctx, "nobody", true),
		"SetPassword": u.SetPassword(ctx, "nobody", "secret-password"),
	} {
		if !errors.Is(err, auth.ErrNoUser) {
			t.Errorf("%s on a missing user: %v; want ErrNoUser", name, err)
		}
	}
	list, err = u.List(ctx)
	if err != nil || len(list) != 1 || list[0].Username != "alice" {
		t.Errorf("List after delete = %v, %v; want alice only", list, err)
	}
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	u := newUsers(t, enginetest.DB(t), auth.Options{})
	tests := []struct {
		username, password, email string
		want                      error // nil: accepted
	}{
		{"a", "pw-long-enough", "", nil},
		{strings.Repeat("x", 64), "pw-long-enough", "", nil},
		{"a.b_c-d@e+f", "pw-long-enough", "", nil},
		{"Alice", "pw-long-enough", "", nil},
		{"alice", "pw-long-enough", "", auth.ErrUserExists}, // the same account as "Alice"
		{"9lives", "pw-long-enough", "", nil},
		{"", "pw-long-enough", "", auth.ErrInvalidUsername},
		{strings.Repeat("x", 65), "pw-long-enough", "", auth.ErrInvalidUsername},
		{" carol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"carol ", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"ca rol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"-carol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{".carol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"ca$rol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"ca/rol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"cårol", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"carol\x00", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"carol\n", "pw-long-enough", "", auth.ErrInvalidUsername},
		{"p128", strings.Repeat("p", 128), "", nil},
		{"p129", strings.Repeat("p", 129), "", auth.ErrPasswordTooLong},
		{"euro128", strings.Repeat("€", 128), "", nil}, // 384 bytes
		{"euro129", strings.Repeat("€", 129), "", auth.ErrPasswordTooLong},
		{"p12", "p12-boundary", "", nil}, // strings.Repeat("p", 12) is a common password
		{"p11", strings.Repeat("p", 11), "", auth.ErrPasswordTooShort},
		{"kanji11", strings.Repeat("漢", 11), "", auth.ErrPasswordTooShort}, // 33 bytes
		{"common", "1qaz2wsx3edc", "", auth.ErrPasswordCommon},
		{"commonCase", "QWERTY123456", "", auth.ErrPasswordCommon},
		{"invalid", "password\xff\xfe1234", "", auth.ErrPasswordInvalid},
		{"empty", "", "", auth.ErrPasswordEmpty},
		{"mail1", "pw-long-enough", "dave@example.com", nil},
		{"mail2", "pw-long-enough", "dave@", auth.ErrInvalidEmail},
		{"mail3", "pw-long-enough", "@example.com", auth.ErrInvalidEmail},
		{"mail4", "pw-long-enough", "dave example.com", auth.ErrInvalidEmail},
		{"mail5", "pw-long-enough", "da ve@example.com", auth.ErrInvalidEmail},
		{"mail6", "pw-long-enough", "dave@example.com\r\nBcc: x@y", auth.ErrInvalidEmail},
		{"mail7", "pw-long-enough", strings.Repeat("d", 250) + "@e.com", auth.ErrInvalidEmail},
	}
	for _, tc := range tests {
		_, err := u.Create(ctx, tc.username, tc.password, tc.email)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Create(%q, %d-byte password, %q) = %v; want %v", tc.username, len(tc.password), tc.email, err, tc.want)
		}
		exists, xerr := u.Exists(ctx, tc.username)
		if xerr != nil || exists != (tc.want == nil || tc.want == auth.ErrUserExists) {
			t.Errorf("after Create(%q): Exists = %v, %v; want %v", tc.username, exists, xerr, tc.want == nil)
		}
	}
}

// TestPasswordLength: up to MaxPasswordLen characters of any script are
// accepted and compared in full (bcrypt alone would read 72 bytes).
func TestPasswordLength(t *testing.T) {
	ctx := context.Background()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxFailures: 100})
	long := strings.Repeat("パスワード", 25) + "ですよ" // 128 characters, 384 bytes
	mustCreate(t, u, "erin", long)
	if _, err := u.Authenticate(ctx, "erin", long); err != nil {
		t.Fatalf("Authenticate with the 128-character password: %v", err)
	}
	// Passwords that share the first 72 bytes are different passwords.
	for _, other := range []string{long[:72], long[:len(long)-3] + "x", long[:len(long)-3]} {
		if _, err := u.Authenticate(ctx, "erin", other); err != auth.ErrInvalidCredentials {
			t.Errorf("Authenticate with %d bytes of it: %v; want ErrInvalidCredentials", len(other), err)
		}
	}
	for _, tc := range []struct {
		password string
		want     error
	}{
		{strings.Repeat("p", 129), auth.ErrPasswordTooLong},
		{strings.Repeat("p", 11), auth.ErrPasswordTooShort},
		{"", auth.ErrPasswordEmpty},
		{"123qweasdzxc", auth.ErrPasswordCommon},
	} {
		if err := u.SetPassword(ctx, "erin", tc.password); !errors.Is(err, tc.want) {
			t.Errorf("SetPassword(%d characters) = %v; want %v", len(tc.password), err, tc.want)
		}
	}
	if _, err := u.Authenticate(ctx, "erin", long); err != nil {
		t.Errorf("refused SetPassword calls changed the password: %v", err)
	}
	if err := u.SetPassword(ctx, "erin", strings.Repeat("q", 72)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, "erin", long); err != auth.ErrInvalidCredentials {
		t.Errorf("old password after SetPassword: %v; want ErrInvalidCredentials", err)
	}
	if _, err := u.Authenticate(ctx, "erin", strings.Repeat("q", 72)); err != nil {
		t.Errorf("new password after SetPassword: %v", err)
	}
}

func TestNewUsersOptions(t *testing.T) {
	db := enginetest.DB(t)
	tests := []struct {
		opts auth.Options
		ok   bool
	}{
		{auth.Options{}, true},
		{auth.Options{Cost: 10}, true},
		{auth.Options{Cost: 31}, true},
		{auth.Options{Cost: 9}, true},
		{auth.Options{Cost: 4}, true}, // bcrypt's minimum, for tests
		{auth.Options{Cost: 3}, false},
		{auth.Options{Cost: -1}, false},
		{auth.Options{Cost: 32}, false},
		{auth.Options{MaxFailures: -1}, false},
		{auth.Options{Window: -time.Second}, false},
	}
	for _, tc := range tests {
		u, err := auth.NewUsers(db, tc.opts)
		if tc.ok && (err != nil || u == nil) || !tc.ok && !errors.Is(err, auth.ErrInvalidOptions) {
			t.Errorf("NewUsers(%+v) = %v, %v; want ok=%v", tc.opts, u, err, tc.ok)
		}
	}
}

func TestDuplicateUsername(t *testing.T) {
	ctx := context.Background()
	db := enginetest.DB(t)
	u := newUsers(t, db, auth.Options{})
	mustCreate(t, u, "frank", "first-password")
	if _, err := u.Create(ctx, "frank", "second-password", ""); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("second Create: %v; want ErrUserExists", err)
	}
	if _, err := u.Authenticate(ctx, "frank", "first-password"); err != nil {
		t.Errorf("the refused Create changed the password: %v", err)
	}
	if _, err := u.Create(ctx, "FRANK", "second-password", ""); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("Create in another case: %v; want ErrUserExists", err)
	}
	// The _id is the canonical name, so any writer is refused.
	if _, err := db.Collection(auth.UsersCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "frank"}, {Key: "username", Value: "Frank"}}); err == nil {
		t.Error("a raw insert of a duplicate _id succeeded")
	}
	// EnsureIndexes is idempotent.
	if err := u.EnsureIndexes(ctx); err != nil {
		t.Errorf("second EnsureIndexes: %v", err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	db := enginetest.DB(t)
	// Two stores, no EnsureIndexes call: Create makes the index itself.
	var stores [2]*auth.Users
	for i := range stores {
		s, err := auth.NewUsers(db, auth.Options{Cost: testCost})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = stores[i%2].Create(ctx, []string{"grace", "Grace", "GRACE"}[i%3], "pw-long-enough", "")
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, auth.ErrUserExists):
			t.Errorf("Create %d: %v; want nil or ErrUserExists", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent Creates succeeded; want exactly 1 (errors: %v)", wins, errs)
	}
	n2, err := db.Collection(auth.UsersCollection).CountDocuments(ctx, bson.D{})
	if err != nil || n2 != 1 {
		t.Errorf("%d documents for grace, %v; want 1", n2, err)
	}
}

func TestHashUpgrade(t *testing.T) {
	ctx := context.Background()
	db := enginetest.DB(t)
	u10 := newUsers(t, db, auth.Options{Cost: testCost})
	u11 := newUsers(t, db, auth.Options{Cost: testCost + 1})
	mustCreate(t, u10, "heidi", "opensesame-please")
	if c := storedCost(t, db, "heidi"); c != testCost {
		t.Fatalf("created with cost %d; want %d", c, testCost)
	}
	before, err := u10.Get(ctx, "heidi")
	if err != nil {
		t.Fatal(err)
	}
	// A failed login upgrades nothing.
	if _, err := u11.Authenticate(ctx, "heidi", "wrong"); err != auth.ErrInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if c := storedCost(t, db, "heidi"); c != testCost {
		t.Errorf("after a failed login the cost is %d; want %d", c, testCost)
	}
	logged, err := u11.Authenticate(ctx, "heidi", "opensesame-please")
	if err != nil {
		t.Fatal(err)
	}
	if c := storedCost(t, db, "heidi"); c != testCost+1 {
		t.Errorf("after login via a store of a higher cost the cost is %d; want %d", c, testCost+1)
	}
	after, err := u11.Get(ctx, "heidi")
	if err != nil {
		t.Fatal(err)
	}
	if auth.Fingerprint(logged) != auth.Fingerprint(after) {
		t.Error("the User returned by Authenticate does not carry the upgraded hash")
	}
	if auth.Fingerprint(before) == auth.Fingerprint(after) {
		t.Error("the fingerprint did not change with the hash")
	}
	if !after.PasswordChangedAt.Equal(before.PasswordChangedAt) {
		t.Errorf("an upgrade changed PasswordChangedAt from %v to %v", before.PasswordChangedAt, after.PasswordChangedAt)
	}
	// The upgraded hash still verifies, and a lower-cost store never
	// downgrades it.
	if _, err := u10.Authenticate(ctx, "heidi", "opensesame-please"); err != nil {
		t.Fatal(err)
	}
	if c := storedCost(t, db, "heidi"); c != testCost+1 {
		t.Errorf("after login via a store of a lower cost the cost is %d; want %d kept", c, testCost+1)
	}
}

// TestConcurrentUpgrade: two logins that both upgrade the hash return
// users whose fingerprint is the stored one, so neither session is ended
// by the other's upgrade.
func TestConcurrentUpgrade(t *testing.T) {
	ctx := context.Background()
	db := enginetest.DB(t)
	mustCreate(t, newUsers(t, db, auth.Options{Cost: testCost}), "ivan", "pw-long-enough")
	u11 := newUsers(t, db, auth.Options{Cost: testCost + 1})
	var users [2]auth.User
	var errs [2]error
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() { users[i], errs[i] = u11.Authenticate(ctx, "ivan", "pw-long-enough") })
	}
	wg.Wait()
	stored, err := u11.Get(ctx, "ivan")
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if errs[i] != nil {
			t.Errorf("login %d: %v", i, errs[i])
		} else if auth.Fingerprint(users[i]) != auth.Fingerprint(stored) {
			t.Errorf("login %d returned a fingerprint that is not the stored hash's", i)
		}
	}
}

func TestSameErrorForEveryFailure(t *testing.T) {
	ctx := context.Background()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxFailures: 100})
	mustCreate(t, u, "judy", "correct horse")
	mustCreate(t, u, "ken", "battery staple")
	if err := u.SetActive(context.Background(), "ken", false); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, username, password string }{
		{"unknown user", "nobody", "correct horse"},
		{"wrong password", "judy", "incorrect horse"},
		{"wrong password, other case", "JUDY", "incorrect horse"},
		{"empty password", "judy", ""},
		{"over-long password", "judy", "correct horse" + strings.Repeat("!", 80)},
		{"inactive, right password", "ken", "battery staple"},
		{"inactive, wrong password", "ken", "staple battery"},
		{"invalid username", "ju dy", "correct horse"},
		{"empty username", "", "correct horse"},
		{"huge username", strings.Repeat("j", 5000), "correct horse"},
	}
	for _, tc := range tests {
		user, err := u.Authenticate(ctx, tc.username, tc.password)
		if err != auth.ErrInvalidCredentials { // the very value, not a wrapper
			t.Errorf("%s: Authenticate = %v; want ErrInvalidCredentials itself", tc.name, err)
		}
		if diff := cmp.Diff(auth.User{}, user, ignoreHash); diff != "" || auth.Fingerprint(user) != "" {
			t.Errorf("%s: Authenticate returned a user: %s", tc.name, diff)
		}
	}
	for _, name := range []string{"judy", "ken"} {
		if got, err := u.Get(ctx, name); err != nil || !got.LastLogin.IsZero() {
			t.Errorf("%s: LastLogin %v after failures only (%v)", name, got.LastLogin, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	u := newUsers(t, enginetest.DB(t), auth.Options{Now: clk.Now})
	mustCreate(t, u, "leo", "pw1-long-enough")
	mustCreate(t, u, "mia", "pw1-long-enough")
	get := func(name string) auth.User {
		t.Helper()
		user, err := u.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return user
	}
	leo := get("leo")
	fp := auth.Fingerprint(leo)
	if len(fp) != 22 || strings.ContainsAny(fp, "+/=") {
		t.Errorf("Fingerprint = %q; want 22 characters of base64url", fp)
	}
	if auth.Fingerprint(get("leo")) != fp {
		t.Error("Fingerprint differs between two reads of one user")
	}
	logged, err := u.Authenticate(ctx, "leo", "pw1-long-enough")
	if err != nil {
		t.Fatal(err)
	}
	if auth.Fingerprint(logged) != fp {
		t.Error("a login without upgrade changed the fingerprint")
	}
	if auth.Fingerprint(get("mia")) == fp {
		t.Error("two users with the same password have the same fingerprint")
	}
	if got := auth.Fingerprint(auth.User{Username: "leo"}); got != "" {
		t.Errorf("Fingerprint of a User not read from the store = %q; want \"\"", got)
	}
	clk.Advance(time.Hour)
	if err := u.SetPassword(ctx, "leo", "pw2-long-enough"); err != nil {
		t.Fatal(err)
	}
	after := get("leo")
	if auth.Fingerprint(after) == fp {
		t.Error("the fingerprint did not change with the password")
	}
	if !after.PasswordChangedAt.Equal(clk.Now()) {
		t.Errorf("PasswordChangedAt = %v; want %v", after.PasswordChangedAt, clk.Now())
	}
	// Setting the same password again gives a new hash (new salt), so it
	// also ends other sessions.
	if err := u.SetPassword(ctx, "leo", "pw2-long-enough"); err != nil {
		t.Fatal(err)
	}
	if auth.Fingerprint(get("leo")) == auth.Fingerprint(after) {
		t.Error("setting the same password again kept the fingerprint")
	}
	// Disabling the account changes it too; enabling does not change it
	// back.
	beforeDisable := auth.Fingerprint(get("mia"))
	if err := u.SetActive(ctx, "mia", false); err != nil {
		t.Fatal(err)
	}
	if err := u.SetActive(ctx, "mia", true); err != nil {
		t.Fatal(err)
	}
	if auth.Fingerprint(get("mia")) == beforeDisable {
		t.Error("disabling and enabling mia left her fingerprint as it was")
	}
}

// TestTemporaryPassword: a temporary password marks the account until
// the user sets their own.
func TestTemporaryPassword(t *testing.T) {
	ctx := t.Context()
	u := newUsers(t, enginetest.DB(t), auth.Options{})
	mustCreate(t, u, "tess", "tess-password-1")
	must := func(want bool) {
		t.Helper()
		got, err := u.Get(ctx, "tess")
		if err != nil || got.MustChangePassword != want {
			t.Errorf("MustChangePassword = %v, %v; want %v", got.MustChangePassword, err, want)
		}
	}
	must(false)
	if err := u.SetTemporaryPassword(ctx, "tess", "temporary-pw-1"); err != nil {
		t.Fatal(err)
	}
	must(true)
	if got, err := u.Authenticate(ctx, "tess", "temporary-pw-1"); err != nil || !got.MustChangePassword {
		t.Errorf("Authenticate with the temporary password: %v, must change %v; want true", err, got.MustChangePassword)
	}
	if err := u.SetPassword(ctx, "tess", "tess-own-password"); err != nil {
		t.Fatal(err)
	}
	must(false)
	if err := u.SetMustChangePassword(ctx, "tess", true); err != nil {
		t.Fatal(err)
	}
	must(true)
	if err := u.SetTemporaryPassword(ctx, "tess", "short"); !errors.Is(err, auth.ErrPasswordTooShort) {
		t.Errorf("a short temporary password: %v; want ErrPasswordTooShort", err)
	}
	if err := u.SetMustChangePassword(ctx, "nobody", true); !errors.Is(err, auth.ErrNoUser) {
		t.Errorf("SetMustChangePassword of nobody: %v; want ErrNoUser", err)
	}
}

// TestTemporaryPasswordExpires: a temporary password logs in for
// Options.TemporaryLifetime after the operator set it, then fails as a
// wrong password would; the user's own password never expires.
func TestTemporaryPasswordExpires(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	u := newUsers(t, enginetest.DB(t), auth.Options{TemporaryLifetime: time.Hour, Now: clk.Now})
	mustCreate(t, u, "tess", "tess-password-1")
	mustCreate(t, u, "otto", "otto-password-1")
	if err := u.SetTemporaryPassword(ctx, "tess", "temporary-pw-1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Minute)
	if _, err := u.Authenticate(ctx, "tess", "temporary-pw-1"); err != nil {
		t.Errorf("within its lifetime: %v", err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := u.Authenticate(ctx, "tess", "temporary-pw-1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("after its lifetime: %v; want ErrInvalidCredentials", err)
	}
	if _, err := u.Authenticate(ctx, "otto", "otto-password-1"); err != nil {
		t.Errorf("a password of the user's own, as old: %v", err)
	}
	// Marking an account (user add --temporary) starts the lifetime anew.
	if err := u.SetMustChangePassword(ctx, "tess", true); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, "tess", "temporary-pw-1"); err != nil {
		t.Errorf("after SetMustChangePassword: %v", err)
	}
}
