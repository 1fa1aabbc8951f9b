package auth_test

import (
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// fakeVersions is a Versioner whose versions change only when the test
// says, so that the test can tell a cached read from a database read.
type fakeVersions struct {
	mu    sync.Mutex
	v     map[string]uint64
	calls int
}

func (f *fakeVersions) Version(db, coll, id string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.v[db+"."+coll+"."+id]
}

// bump says that the document changed, as the engine would after any
// write to it.
func (f *fakeVersions) bump(db, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.v == nil {
		f.v = map[string]uint64{}
	}
	f.v[db+"."+auth.UsersCollection+"."+id]++
}

// TestUserCache: with Options.Versions, an account is read from the
// database once and then served from the cache while its version stays;
// a change by another process (here: behind the store's back) is seen
// as soon as the version changes, and disabling, deleting or changing a
// password take effect at the next read.
func TestUserCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	coll := db.Collection(auth.UsersCollection)
	versions := &fakeVersions{}
	u := newUsers(t, db, auth.Options{Versions: versions, CacheSize: 2})
	other := newUsers(t, db, auth.Options{}) // another process: no cache
	mustCreate(t, u, "vic", "pw-long-enough")
	get := func() auth.User {
		t.Helper()
		got, err := u.Get(ctx, "Vic")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := get(); got.Email != "" {
		t.Fatalf("email %q", got.Email)
	}
	// Changed behind the cache's back, version unchanged: the cached
	// copy is what Get gives, so the cache is used.
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "vic"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "vic@example.com"}}}}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Email != "" {
		t.Errorf("Get with an unchanged version read the database (email %q)", got.Email)
	}
	versions.bump(db.Name(), "vic")
	if got := get(); got.Email != "vic@example.com" {
		t.Errorf("Get after the version changed: email %q; want the new one", got.Email)
	}

	// Another process disables the account, changes its password,
	// deletes it: each is seen once the version changes.
	fp := auth.Fingerprint(get())
	if err := other.SetPassword(ctx, "vic", "pw2-long-enough"); err != nil {
		t.Fatal(err)
	}
	versions.bump(db.Name(), "vic")
	if auth.Fingerprint(get()) == fp {
		t.Error("a password change by another process was not seen")
	}
	if err := other.SetActive(ctx, "vic", false); err != nil {
		t.Fatal(err)
	}
	versions.bump(db.Name(), "vic")
	if get().IsActive {
		t.Error("disabling by another process was not seen")
	}
	if err := other.Delete(ctx, "vic"); err != nil {
		t.Fatal(err)
	}
	versions.bump(db.Name(), "vic")
	if ok, err := u.Exists(ctx, "vic"); err != nil || ok {
		t.Errorf("Exists after a delete by another process = %v, %v", ok, err)
	}
	if versions.calls == 0 {
		t.Error("the Versioner was never asked")
	}
}
