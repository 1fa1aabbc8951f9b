package enginetest_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func TestDBIsFreshUniqueAndDropped(t *testing.T) {
	ctx := context.Background()
	var names []string
	var client *mongo.Client
	for _, sub := range []string{"first", "second/with spaces and a very long name that goes on and on and on"} {
		t.Run(sub, func(t *testing.T) {
			db := enginetest.DB(t)
			client = db.Client()
			if !validName.MatchString(db.Name()) {
				t.Errorf("database name %q is not valid", db.Name())
			}
			n, err := db.Collection("c").CountDocuments(ctx, bson.M{})
			if err != nil || n != 0 {
				t.Fatalf("new database has %d documents, %v", n, err)
			}
			if _, err := db.Collection("c").InsertOne(ctx, bson.M{"x": 1}); err != nil {
				t.Fatal(err)
			}
			dbs, err := client.ListDatabaseNames(ctx, bson.M{})
			if err != nil || !slices.Contains(dbs, db.Name()) {
				t.Fatalf("database %s not listed: %v, %v", db.Name(), dbs, err)
			}
			names = append(names, db.Name())
		})
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("names %v: want two different ones", names)
	}
	dbs, err := client.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if slices.Contains(dbs, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestEngineRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := enginetest.Engine(t, dir)
	c := enginetest.Connect(t, e.URI())
	if _, err := c.Database("app").Collection("c").InsertOne(ctx, bson.M{"_id": "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	e2 := enginetest.Engine(t, dir)
	c2 := enginetest.Connect(t, e2.URI())
	n, err := c2.Database("app").Collection("c").CountDocuments(ctx, bson.M{"_id": "kept"})
	if err != nil || n != 1 {
		t.Errorf("after restart: %d documents, %v", n, err)
	}
}

// TestQueryAfterStopFails shows what a store sees when the engine stops
// under it: an error from the driver's own timeouts (so a handler can map
// it to 503), not a hang.
func TestQueryAfterStopFails(t *testing.T) {
	e := enginetest.Engine(t, t.TempDir())
	c := enginetest.Connect(t, e.URI())
	coll := c.Database("app").Collection("c")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.M{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The first operation uses a pooled connection that the engine closed
	// (a network error); the next ones find no server (a timeout).
	for i, want := range []func(error) bool{mongo.IsNetworkError, mongo.IsTimeout} {
		// Far beyond the client's timeouts: if this deadline is what ends
		// the query, the client hung.
		qctx, cancel := context.WithTimeout(ctx, 2*enginetest.OperationTimeout)
		start := time.Now()
		err := coll.FindOne(qctx, bson.M{}).Err()
		elapsed := time.Since(start)
		ctxErr := qctx.Err()
		cancel()
		t.Logf("query %d after stop: %v after %v", i, err, elapsed.Round(time.Millisecond))
		if err == nil || errors.Is(err, mongo.ErrNoDocuments) {
			t.Fatalf("query %d after stop: %v; want an error", i, err)
		}
		if ctxErr != nil {
			t.Errorf("query %d after stop ran until the test's deadline: the client hung", i)
		}
		if !want(err) {
			t.Errorf("query %d after stop: %v (%T); want IsNetworkError or IsTimeout as documented", i, err, err)
		}
		if i == 1 && !strings.Contains(err.Error(), "server selection") {
			t.Errorf("query %d after stop: %v; want a server selection error", i, err)
		}
	}
}
