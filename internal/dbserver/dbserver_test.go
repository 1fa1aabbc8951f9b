package dbserver_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/internal/dbserver"
)

func connect(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// TestServerStopStartClose stores a document, stops FerretDB (the
// database server is then unreachable), starts it again on the same
// address (the document is still there: it lives in PostgreSQL), and
// checks that Close removes everything.
func TestServerStopStartClose(t *testing.T) {
	ctx := t.Context()
	s, err := dbserver.Start(ctx)
	if err != nil {
		dbserver.SkipOrFail(t, err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close(context.Background())
		}
	})
	c := connect(t, s.URI())
	coll := c.Database("probe").Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = coll.FindOne(short, bson.D{{Key: "_id", Value: "a"}}).Err()
	cancel()
	if err == nil {
		t.Fatal("find succeeded while FerretDB was stopped")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
	}
	var got struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.N != 1 {
		t.Fatalf("n = %d, want 1", got.N)
	}
	dir := s.Dir()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after Close (%v)", dir, err)
	}
}
