package auth_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// TestPepperedHashUpgrade: a plain bcrypt hash of an older version (a
// password under the old policy) still logs in, and the login replaces
// it with a peppered one that keeps working.
func TestPepperedHashUpgrade(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	clk := newClock()
	u := newUsers(t, db, auth.Options{MaxFailures: 100, Now: clk.Now})
	old, err := bcrypt.GenerateFromPassword([]byte("short"), testCost)
	if err != nil {
		t.Fatal(err)
	}
	users := db.Collection(auth.UsersCollection)
	if _, err := users.InsertOne(ctx, bson.D{
		{Key: "_id", Value: "olive"}, {Key: "username", Value: "olive"},
		{Key: "password_hash", Value: string(old)}, {Key: "is_active", Value: true},
	}); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		var doc struct {
			Hash string `bson:"password_hash"`
		}
		if err := users.FindOne(ctx, bson.D{{Key: "_id", Value: "olive"}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc.Hash
	}
	if _, err := u.Authenticate(ctx, "olive", "short!"); err != auth.ErrInvalidCredentials {
		t.Fatalf("wrong password on an old hash: %v", err)
	}
	if h := read(); h != string(old) {
		t.Fatalf("a failed login changed the hash to %q", h)
	}
	got, err := u.Authenticate(ctx, "olive", "short")
	if err != nil {
		t.Fatalf("old hash: %v", err)
	}
	// "short" fails today's policy: the user must choose another, but
	// it is not a temporary password that expires.
	if !got.MustChangePassword {
		t.Error("a login with a password the policy refuses left MustChangePassword false")
	}
	h := read()
	if !strings.HasPrefix(h, auth.PepperedPrefix) {
		t.Fatalf("after login the hash is %q; want the prefix %q", h, auth.PepperedPrefix)
	}
	clk.Advance(30 * 24 * time.Hour)
	if got, err := u.Authenticate(ctx, "olive", "short"); err != nil || !got.MustChangePassword {
		t.Errorf("upgraded hash, a month later: %v, must change %v; want a login that must change", err, got.MustChangePassword)
	}
	if _, err := u.Authenticate(ctx, "olive", "short!"); err != auth.ErrInvalidCredentials {
		t.Errorf("wrong password on the upgraded hash: %v", err)
	}
}

// TestPepperMatters: the stored hash depends on the pepper, so the
// database alone does not check passwords; another pepper logs nobody in.
func TestPepperMatters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	p1, p2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	u1 := newUsers(t, db, auth.Options{Pepper: p1, MaxFailures: 100})
	mustCreate(t, u1, "pia", "pia-password-1")
	if _, err := u1.Authenticate(ctx, "pia", "pia-password-1"); err != nil {
		t.Fatal(err)
	}
	u2 := newUsers(t, db, auth.Options{Pepper: p2, MaxFailures: 100})
	if _, err := u2.Authenticate(ctx, "pia", "pia-password-1"); err != auth.ErrInvalidCredentials {
		t.Errorf("with another pepper: %v; want ErrInvalidCredentials", err)
	}
	if _, err := auth.NewUsers(db, auth.Options{Pepper: make([]byte, 16)}); !errors.Is(err, auth.ErrInvalidOptions) {
		t.Errorf("a 16-byte pepper: %v; want ErrInvalidOptions", err)
	}
}

// TestCheckPasswordMessages: each refusal says what to do.
func TestCheckPasswordMessages(t *testing.T) {
	t.Parallel()
	for pw, want := range map[string]string{
		"short":                   "shorter than 12 characters (it has 5)",
		"a          b":            "shorter than 12 characters (it has 3)",
		strings.Repeat(" ", 20):   "shorter than 12 characters (it has 1)",
		"two  spaces count once.": "",
		strings.Repeat("ж", 129):  "longer than 128 characters (it has 129)",
		"Qwerty123456":            "most common passwords",
		"":                        "empty",
		"correct horse battery":   "",
	} {
		err := auth.CheckPassword(pw)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckPassword(%.20q) = %v; want %q", pw, err, want)
		}
	}
}

func TestPasswordProblem(t *testing.T) {
	t.Parallel()
	for pw, want := range map[string]string{
		"":                                   "Choose a password.",
		"short":                              "Use at least 12 characters for your password.",
		strings.Repeat("x", 129):             "That password is too long: 128 characters at most.",
		"1q2w3e4r5t6y":                       "That password is one of the most common ones, which attackers try first. Choose another.",
		"\xff\xfe" + strings.Repeat("x", 12): "That password contains bytes that are not text. Choose another.",
		"a fine long password":               "",
	} {
		if got := auth.PasswordProblem(pw); got != want {
			t.Errorf("PasswordProblem(%.20q) = %q; want %q", pw, got, want)
		}
	}
}
