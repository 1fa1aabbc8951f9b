package embedded_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/embedded"
	"github.com/aspengo/aspengo/embedded/enginetest"
)

// twoClients opens an engine on a new directory, a second Engine on the
// same directory (a client of the first, as `aspengo user` is of a
// running server) and a driver client of each.
func twoClients(t *testing.T) (owner *embedded.Engine, c1, c2 *mongo.Client) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	owner = enginetest.Engine(t, dir)
	other := enginetest.Engine(t, dir)
	if other.Owner() {
		t.Fatal("second Engine owns the directory")
	}
	return owner, enginetest.Connect(t, owner.URI()), enginetest.Connect(t, other.URI())
}

func TestVersionMovesOnWrites(t *testing.T) {
	e, c1, c2 := twoClients(t)
	ctx := t.Context()
	id := func(s string) bson.D { return bson.D{{Key: "_id", Value: s}} }
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}
	// The documents watched: app.s a, app.s b, app.t a, other.s a.
	watched := [][3]string{{"app", "s", "a"}, {"app", "s", "b"}, {"app", "t", "a"}, {"other", "s", "a"}}
	seed := func() {
		t.Helper()
		for _, w := range watched {
			coll := c1.Database(w[0]).Collection(w[1])
			_, err := coll.UpdateOne(ctx, id(w[2]), bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 1}}}}, options.UpdateOne().SetUpsert(true))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	versions := func() [4]uint64 {
		var v [4]uint64
		for i, w := range watched {
			v[i] = e.Version(w[0], w[1], w[2])
		}
		return v
	}
	s1 := func() *mongo.Collection { return c1.Database("app").Collection("s") }
	s2 := func() *mongo.Collection { return c2.Database("app").Collection("s") }
	tests := []struct {
		name  string
		write func() error
		want  [4]bool // which watched versions move
	}{
		{"UpdateOne by _id", func() error { _, err := s1().UpdateOne(ctx, id("a"), set); return err }, [4]bool{true, false, false, false}},
		{"UpdateOne by _id, second client", func() error { _, err := s2().UpdateOne(ctx, id("a"), set); return err }, [4]bool{true, false, false, false}},
		{"UpdateOne by _id, no match", func() error { _, err := s2().UpdateOne(ctx, id("zz"), set); return err }, [4]bool{}},
		{"ReplaceOne by _id", func() error { _, err := s2().ReplaceOne(ctx, id("b"), bson.D{{Key: "n", Value: 2}}); return err }, [4]bool{false, true, false, false}},
		{"DeleteOne by _id", func() error { _, err := s2().DeleteOne(ctx, id("a")); return err }, [4]bool{true, false, false, false}},
		{"FindOneAndUpdate by _id", func() error { return s2().FindOneAndUpdate(ctx, id("a"), set).Err() }, [4]bool{true, false, false, false}},
		{"FindOneAndDelete by _id", func() error { return s1().FindOneAndDelete(ctx, id("b")).Err() }, [4]bool{false, true, false, false}},
		{"UpdateOne by _id in another collection", func() error {
			_, err := c2.Database("app").Collection("t").UpdateOne(ctx, id("a"), set)
			return err
		}, [4]bool{false, false, true, false}},
		{"UpdateOne by _id and a field", func() error {
			_, err := s2().UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}, set)
			return err
		}, [4]bool{true, true, false, false}},
		{"UpdateMany", func() error { _, err := s2().UpdateMany(ctx, bson.D{}, set); return err }, [4]bool{true, true, false, false}},
		{"DeleteMany", func() error { _, err := s2().DeleteMany(ctx, bson.D{{Key: "n", Value: 1}}); return err }, [4]bool{true, true, false, false}},
		{"UpdateOne by ObjectID", func() error {
			_, err := s2().UpdateOne(ctx, bson.D{{Key: "_id", Value: bson.NewObjectID()}}, set)
			return err
		}, [4]bool{true, true, false, false}},
		{"BulkWrite", func() error {
			_, err := s2().BulkWrite(ctx, []mongo.WriteModel{
				mongo.NewUpdateOneModel().SetFilter(id("a")).SetUpdate(set),
				mongo.NewDeleteOneModel().SetFilter(id("b")),
			})
			return err
		}, [4]bool{true, true, false, false}},
		{"drop", func() error { return s2().Drop(ctx) }, [4]bool{true, true, false, false}},
		{"renameCollection", func() error {
			return c2.Database("admin").RunCommand(ctx, bson.D{{Key: "renameCollection", Value: "app.s"}, {Key: "to", Value: "app.s2"}}).Err()
		}, [4]bool{true, true, false, false}},
		{"dropDatabase", func() error { return c2.Database("app").Drop(ctx) }, [4]bool{true, true, true, false}},
		{"InsertOne", func() error { _, err := s2().InsertOne(ctx, id("c")); return err }, [4]bool{}},
		{"reads", func() error {
			if err := s2().FindOne(ctx, id("a")).Err(); err != nil {
				return err
			}
			_, err := s2().CountDocuments(ctx, bson.D{})
			return err
		}, [4]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed()
			_, _ = s1().DeleteOne(ctx, id("c"))
			_ = c1.Database("app").Collection("s2").Drop(ctx)
			before := versions()
			if err := tt.write(); err != nil {
				t.Fatal(err)
			}
			after := versions()
			for i, w := range watched {
				if moved := before[i] != after[i]; moved != tt.want[i] {
					t.Errorf("version of %s.%s %s moved: %v, want %v (%d -> %d)", w[0], w[1], w[2], moved, tt.want[i], before[i], after[i])
				}
			}
		})
	}

	// A client-mode Engine sees no writes, so its versions never repeat.
	other, err := embedded.Open(ctx, embedded.Config{Dir: e.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := other.Version("app", "s", "a"), other.Version("app", "s", "a"); a == b {
		t.Errorf("client-mode Version returned %d twice", a)
	}
}

// TestVersionProtocol runs writers, through two clients of the engine,
// and readers that cache a document as the Version documentation says.
// Whenever a reader finds the version unchanged, its cached copy must be
// at least as new as every write acknowledged before it looked.
func TestVersionProtocol(t *testing.T) {
	e, c1, c2 := twoClients(t)
	ctx := t.Context()
	ids := []string{"a", "b"}
	for _, id := range ids {
		if _, err := c1.Database("app").Collection("s").InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: 0}}); err != nil {
			t.Fatal(err)
		}
	}
	var acked [2]atomic.Int64 // per document, the largest n a write returned
	const writes = 60
	var wg sync.WaitGroup
	var writersDone atomic.Int32
	errs := make(chan error, 100)
	for w, c := range []*mongo.Client{c1, c2, c1, c2} {
		wg.Go(func() {
			defer writersDone.Add(1)
			coll := c.Database("app").Collection("s")
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for range writes {
				i := rnd.IntN(len(ids))
				var doc struct{ N int64 }
				err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: ids[i]}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}},
					options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				for {
					a := acked[i].Load()
					if doc.N <= a || acked[i].CompareAndSwap(a, doc.N) {
						break
					}
				}
			}
		})
	}
	var checks, hits atomic.Int64
	for r := range 4 {
		wg.Go(func() {
			coll := c1.Database("app").Collection("s")
			rnd := rand.New(rand.NewPCG(uint64(r), 2))
			for writersDone.Load() < 4 {
				i := rnd.IntN(len(ids))
				v := e.Version("app", "s", ids[i])
				var doc struct{ N int64 }
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i]}}).Decode(&doc); err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				// Use the cached copy while the version stands.
				for range 20 {
					a := acked[i].Load()
					if e.Version("app", "s", ids[i]) != v {
						break
					}
					hits.Add(1)
					if doc.N < a {
						errs <- fmt.Errorf("reader %d: cached %s n=%d at version %d, but a write of n=%d was acknowledged", r, ids[i], doc.N, v, a)
						return
					}
				}
				checks.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if checks.Load() == 0 || hits.Load() == 0 {
		t.Errorf("readers made %d reads and used a cached copy %d times; want some of each", checks.Load(), hits.Load())
	}
	t.Logf("%d reads, %d uses of a cached copy", checks.Load(), hits.Load())
}
