package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/crypto/bcrypt"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice":             "alice",
		"Alice":             "alice",
		"ALICE":             "alice",
		"Bob.Smith@Example": "bob.smith@example",
		"a_B-c+D9":          "a_b-c+d9",
		"":                  "",
	} {
		if got := auth.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestCaseInsensitive: "Alice" registered, "alice" cannot register, and
// any case logs in as the one account, which keeps its spelling.
func TestCaseInsensitive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxFailures: 100})
	mustCreate(t, u, "Alice", "pw-long-enough")
	if _, err := u.Create(ctx, "alice", "other-password-1", ""); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("Create(alice) after Alice: %v; want ErrUserExists", err)
	}
	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		got, err := u.Authenticate(ctx, name, "pw-long-enough")
		if err != nil {
			t.Errorf("Authenticate(%q): %v", name, err)
			continue
		}
		if got.ID != "alice" || got.Username != "Alice" {
			t.Errorf("Authenticate(%q) = ID %q Username %q; want alice, Alice", name, got.ID, got.Username)
		}
	}
	if err := u.SetPassword(ctx, "ALICE", "pw2-long-enough"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, "alice", "pw2-long-enough"); err != nil {
		t.Errorf("after SetPassword(ALICE): %v", err)
	}
	if err := u.Delete(ctx, "aLICE"); err != nil {
		t.Fatal(err)
	}
	if ok, err := u.Exists(ctx, "Alice"); ok || err != nil {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
}

// legacyUser inserts an account as the previous version stored it: an
// ObjectId _id and the exact username.
func legacyUser(t *testing.T, coll *mongo.Collection, username, password string) bson.ObjectID {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), testCost)
	if err != nil {
		t.Fatal(err)
	}
	id := bson.NewObjectID()
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err = coll.InsertOne(t.Context(), bson.D{
		{Key: "_id", Value: id}, {Key: "username", Value: username}, {Key: "password_hash", Value: string(h)},
		{Key: "email", Value: username + "@example.com"}, {Key: "is_active", Value: true},
		{Key: "created_at", Value: now}, {Key: "last_login", Value: nil}, {Key: "password_changed_at", Value: now},
		{Key: "favourite", Value: "kept"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// storedIDs returns the _id and username of every stored account.
func storedIDs(t *testing.T, coll *mongo.Collection) map[string]any {
	t.Helper()
	cur, err := coll.Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, d := range docs {
		out[d["username"].(string)] = d["_id"]
	}
	return out
}

// TestMigrate: accounts of the previous version (ObjectId _ids, a unique
// index on username) get canonical _ids, keeping every field, when two
// stores start at once; accounts that differ only in case are reported
// and left alone, and keep logging in by their exact names.
func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	coll := db.Collection(auth.UsersCollection)
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetName("username_unique").SetUnique(true),
	}); err != nil {
		t.Fatal(err)
	}
	legacyUser(t, coll, "Mona", "pw-mona-long-enough")
	legacyUser(t, coll, "nils", "pw-nils")
	ozID, ozzyID := legacyUser(t, coll, "Oz", "pw-Oz"), legacyUser(t, coll, "oz", "pw-oz-long-enough")
	stores := make([]*auth.Users, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		s, err := auth.NewUsers(db, auth.Options{Cost: testCost, MaxFailures: 100})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
		wg.Go(func() { errs[i] = s.EnsureIndexes(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("EnsureIndexes %d: %v", i, err)
		}
	}
	want := map[string]any{"Mona": "mona", "nils": "nils", "Oz": ozID, "oz": ozzyID}
	if diff := cmp.Diff(want, storedIDs(t, coll)); diff != "" {
		t.Errorf("stored _ids after migration (-want +got):\n%s", diff)
	}
	for i, s := range stores {
		conflicts, err := s.Conflicts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]auth.CaseConflict{{Canonical: "oz", Usernames: []string{"Oz", "oz"}}}, conflicts); diff != "" {
			t.Errorf("store %d: conflicts (-want +got):\n%s", i, diff)
		}
	}
	u := stores[0]
	var mona bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "mona"}}).Decode(&mona); err != nil {
		t.Fatal(err)
	}
	if mona["favourite"] != "kept" || mona["email"] != "Mona@example.com" {
		t.Errorf("the migrated document lost fields: %v", mona)
	}
	for _, tc := range []struct{ name, password string }{
		{"mona", "pw-mona-long-enough"}, {"MONA", "pw-mona-long-enough"}, {"Nils", "pw-nils"},
		{"Oz", "pw-Oz"}, {"oz", "pw-oz-long-enough"}, // exact names while they conflict
	} {
		if _, err := u.Authenticate(ctx, tc.name, tc.password); err != nil {
			t.Errorf("Authenticate(%q): %v", tc.name, err)
		}
	}
	if _, err := u.Authenticate(ctx, "OZ", "pw-oz-long-enough"); err != auth.ErrInvalidCredentials {
		t.Errorf("Authenticate(OZ) while Oz and oz conflict: %v; want ErrInvalidCredentials", err)
	}
	if _, err := u.Create(ctx, "OZ", "pw-long-enough", ""); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("Create(OZ) while Oz and oz conflict: %v; want ErrUserExists", err)
	}
	// A migrated database no longer refuses the case variants through
	// the old index, but through the _id.
	if _, err := u.Create(ctx, "NILS", "pw-long-enough", ""); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("Create(NILS): %v; want ErrUserExists", err)
	}

	// Deleting one of the pair lets the next start migrate the other.
	if err := u.Delete(ctx, "Oz"); err != nil {
		t.Fatal(err)
	}
	// And it finishes an interrupted migration: the copy exists, the original too.
	pID := legacyUser(t, coll, "Pia", "pw-pia")
	var orig bson.D
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: pID}}).Decode(&orig); err != nil {
		t.Fatal(err)
	}
	cp := bson.D{{Key: "_id", Value: "pia"}}
	cp = append(cp, orig[1:]...)
	cp = append(cp, bson.E{Key: "legacy_id", Value: pID})
	if _, err := coll.InsertOne(ctx, cp); err != nil {
		t.Fatal(err)
	}

	again := newUsers(t, db, auth.Options{MaxFailures: 100})
	if _, err := again.Authenticate(ctx, "PIA", "pw-pia"); err != nil {
		t.Errorf("Authenticate(PIA) after an interrupted migration: %v", err)
	}
	if c, err := again.Conflicts(ctx); err != nil || len(c) != 0 {
		t.Errorf("conflicts after deleting Oz: %v, %v", c, err)
	}
	if _, err := again.Authenticate(ctx, "OZ", "pw-oz-long-enough"); err != nil {
		t.Errorf("Authenticate(OZ) after the migration of oz: %v", err)
	}
	want = map[string]any{"Mona": "mona", "nils": "nils", "Pia": "pia", "oz": "oz"}
	if diff := cmp.Diff(want, storedIDs(t, coll)); diff != "" {
		t.Errorf("stored _ids after the second migration (-want +got):\n%s", diff)
	}
}
