package auth

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

// TestDefaults checks what the zero Options mean; an unconnected client
// is enough, since NewUsers does no I/O.
func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := mongo.Connect()
	if err != nil {
		t.Fatal(err)
	}
	db := c.Database("unused")
	s, err := NewUsers(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.cost != 12 || s.maxFailures != 5 || s.window != 15*time.Minute {
		t.Errorf("defaults: cost %d, max failures %d, window %v; want 12, 5, 15m", s.cost, s.maxFailures, s.window)
	}
	// The dummy hash has the configured cost, and is made once.
	s10, err := NewUsers(db, Options{Cost: 10})
	if err != nil {
		t.Fatal(err)
	}
	h1, err := s10.dummy()
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := storedCost(h1); err != nil || cost != 10 {
		t.Errorf("dummy hash cost %d, %v; want 10", cost, err)
	}
	if h2, _ := s10.dummy(); string(h2) != string(h1) {
		t.Error("dummy hash made twice")
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":            "",
		"/a%2Fb":      "/a/b",
		"%2f%5C":      "/\\",
		"%252F":       "%2F",
		"%zz%2F":      "%zz/",
		"50%":         "50%",
		"%2":          "%2",
		"%41%":        "A%",
		"/caf%C3%A9":  "/café",
		"/plain/path": "/plain/path",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestCacheBound: the cache never holds more than CacheSize accounts.
func TestCacheBound(t *testing.T) {
	t.Parallel()
	c := &userCache{size: 2, entries: map[string]cacheEntry{}}
	for i, id := range []string{"a", "b", "c", "d", "b"} {
		c.put(id, uint64(i), userDoc{Username: id})
		if n := c.len(); n > 2 {
			t.Fatalf("after %d puts the cache holds %d accounts; want at most 2", i+1, n)
		}
	}
	if d, ok := c.get("b", 4); !ok || d.Username != "b" {
		t.Errorf("the last put is not cached: %v, %v", d, ok)
	}
	if _, ok := c.get("b", 1); ok {
		t.Error("an entry was served at another version")
	}
}

// TestRequestQueriesPushedDown asks the engine to explain the queries a
// request makes (the logged-in user, a login's throttle slots, the device
// key) and fails if one is not pushed down to the storage: an exact
// {_id: string} is the one filter the embedded engine does not answer by
// reading the whole collection.
func TestRequestQueriesPushedDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := enginetest.DB(t)
	s, err := NewUsers(db, Options{Cost: LowestCost})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "Alice", "pw-long-enough", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", "wrong"); err != ErrInvalidCredentials {
		t.Fatal(err)
	}
	w, _ := s.windowOf(s.now())
	for _, q := range []struct {
		coll   string
		filter bson.D
	}{
		{UsersCollection, s.filter("ALICE")},
		{FailuresCollection, bson.D{{Key: "_id", Value: slotID(accountCounter("alice"), w, 0)}}},
		{KeysCollection, bson.D{{Key: "_id", Value: deviceKeyID}}},
	} {
		var res bson.M
		err := db.RunCommand(ctx, bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: q.coll}, {Key: "filter", Value: q.filter}}}}).Decode(&res)
		if err != nil {
			t.Fatalf("explain %s %v: %v", q.coll, q.filter, err)
		}
		pushed, ok := res["filterPushdown"]
		if !ok {
			t.Skipf("the engine does not report filterPushdown (not FerretDB): %v", res)
		}
		if pushed != true {
			t.Errorf("find %v in %s is not pushed down: %v", q.filter, q.coll, res)
		}
	}
}
