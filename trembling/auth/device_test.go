package auth_test

import (
	"bytes"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// TestDeviceCookies follows OWASP's device cookie scheme: failures from
// clients without a device cookie lock out only such clients; the owner's
// device cookie still logs in, in another process too; forged, tampered
// and other accounts' device cookies count for nothing; and a device
// cookie that fails too often is locked out itself.
func TestDeviceCookies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	key := bytes.Repeat([]byte("k"), auth.MinDeviceKeySize)
	opts := auth.Options{MaxFailures: 3, DeviceKey: key}
	u := newUsers(t, db, opts)
	other := newUsers(t, db, opts) // another process, sharing the key
	mustCreate(t, u, "owen", "right-horse-battery")
	mustCreate(t, u, "bea", "right-horse-battery")
	_, dev, err := u.Login(ctx, "owen", "right-horse-battery", "")
	if err != nil || dev == "" {
		t.Fatalf("first login: device %q, %v", dev, err)
	}
	_, beaDev, err := u.Login(ctx, "bea", "right-horse-battery", "")
	if err != nil {
		t.Fatal(err)
	}
	stranger := newUsers(t, db, auth.Options{MaxFailures: 3, DeviceKey: bytes.Repeat([]byte("x"), auth.MinDeviceKeySize)})
	_, strangeDev, err := stranger.Login(ctx, "owen", "right-horse-battery", "")
	if err != nil {
		t.Fatal(err)
	}

	// An attacker locks out the clients without a device cookie.
	runAttempts(t, u, []attempt{
		{"owen", "guess1", auth.ErrInvalidCredentials},
		{"owen", "guess2", auth.ErrInvalidCredentials},
		{"owen", "guess3", auth.ErrInvalidCredentials},
		{"owen", "right-horse-battery", auth.ErrThrottled},
	})
	// The owner's browser still logs in, in any process, and gets a new
	// device cookie.
	user, dev2, err := other.Login(ctx, "OWEN", "right-horse-battery", dev)
	if err != nil || user.ID != "owen" {
		t.Fatalf("owner's login during the lockout: %v, %v", user.ID, err)
	}
	if dev2 == "" || dev2 == dev {
		t.Errorf("the owner's login gave device cookie %q; want a new one", dev2)
	}
	for name, d := range map[string]string{
		"forged":             "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"garbage":            "not a cookie",
		"another account's":  beaDev,
		"tampered":           dev[:len(dev)-2] + "AA",
		"another site key's": strangeDev,
	} {
		if _, _, err := u.Login(ctx, "owen", "right-horse-battery", d); !errors.Is(err, auth.ErrThrottled) {
			t.Errorf("%s device cookie during the lockout: %v; want ErrThrottled", name, err)
		}
	}
	// A device cookie that fails too often is locked out itself; the
	// owner's other device cookie is not.
	for range 3 {
		if _, _, err := u.Login(ctx, "owen", "guess", dev2); err != auth.ErrInvalidCredentials {
			t.Fatalf("wrong password with a device cookie: %v", err)
		}
	}
	if _, _, err := u.Login(ctx, "owen", "right-horse-battery", dev2); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("a device cookie after 3 failures: %v; want ErrThrottled", err)
	}
	if _, _, err := u.Login(ctx, "owen", "right-horse-battery", dev); err != nil {
		t.Errorf("the owner's other device cookie: %v", err)
	}
	// bea's account is untouched by all this.
	if _, _, err := u.Login(ctx, "bea", "right-horse-battery", ""); err != nil {
		t.Errorf("bea: %v", err)
	}
}

func TestDeviceKeyOption(t *testing.T) {
	t.Parallel()
	db := enginetest.DB(t)
	if _, err := auth.NewUsers(db, auth.Options{DeviceKey: make([]byte, auth.MinDeviceKeySize-1)}); !errors.Is(err, auth.ErrInvalidOptions) {
		t.Errorf("a short DeviceKey: %v; want ErrInvalidOptions", err)
	}
}

// TestDeviceKeyInDatabase: without Options.DeviceKey the key is kept in
// the database, so every process on it trusts the same device cookies.
func TestDeviceKeyInDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	u1, u2 := newUsers(t, db, auth.Options{MaxFailures: 1}), newUsers(t, db, auth.Options{MaxFailures: 1})
	mustCreate(t, u1, "wes", "right-horse-battery")
	_, dev, err := u1.Login(ctx, "wes", "right-horse-battery", "")
	if err != nil {
		t.Fatal(err)
	}
	runAttempts(t, u2, []attempt{{"wes", "wrong", auth.ErrInvalidCredentials}, {"wes", "right-horse-battery", auth.ErrThrottled}})
	if _, _, err := u2.Login(ctx, "wes", "right-horse-battery", dev); err != nil {
		t.Errorf("a device cookie of one process in another: %v", err)
	}
	// One device cookie key and one password pepper, shared.
	if n, err := db.Collection(auth.KeysCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 2 {
		t.Errorf("%d keys in %s, %v; want 2", n, auth.KeysCollection, err)
	}
}
