package embedded_test

// These tests record what the engine supports of what aspengo needs, through
// the official v2 driver. They run on the embedded engine, and on a real
// MongoDB when MONGODB_URI is set; where the two differ, each side's
// behaviour is asserted.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

func TestUniqueIndex(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("users")
	name, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "username", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if name != "username_1" {
		t.Errorf("index name %q", name)
	}
	if _, err := coll.InsertOne(ctx, bson.M{"username": "ann"}); err != nil {
		t.Fatal(err)
	}
	_, err = coll.InsertOne(ctx, bson.M{"username": "ann"})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert: %v; want a duplicate key error", err)
	}
	var we mongo.WriteException
	if !errors.As(err, &we) || len(we.WriteErrors) != 1 || we.WriteErrors[0].Code != 11000 {
		t.Errorf("second insert: %#v; want a WriteException with code 11000", err)
	}
	// The same through an upsert that would create a second "ann".
	_, err = coll.UpdateOne(ctx, bson.M{"_id": "other"}, bson.M{"$set": bson.M{"username": "ann"}}, options.UpdateOne().SetUpsert(true))
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("upsert: %v; want a duplicate key error", err)
	}

	// Two documents without the field: MongoDB indexes both as null and
	// refuses the second; FerretDB accepts both.
	if _, err := coll.InsertOne(ctx, bson.M{"email": "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err = coll.InsertOne(ctx, bson.M{"email": "b@example.com"})
	if enginetest.UsingMongoDB() {
		if !mongo.IsDuplicateKeyError(err) {
			t.Errorf("MongoDB: second document without the unique field: %v; want a duplicate key error", err)
		}
	} else if err != nil {
		t.Errorf("embedded: second document without the unique field: %v; want it accepted", err)
	}
}

func TestTTLIndex(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("sessions")
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expiresAt", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	if enginetest.UsingMongoDB() {
		if err != nil {
			t.Errorf("MongoDB: TTL index: %v", err)
		}
		return
	}
	// FerretDB v1 refuses the option: code 238, NotImplemented.
	var ce mongo.CommandError
	if !errors.As(err, &ce) || ce.Code != 238 || ce.Name != "NotImplemented" {
		t.Errorf("embedded: TTL index: %#v; want CommandError 238 NotImplemented", err)
	}
}

func TestUpdateOperatorsAndUpsert(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("c")
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	update := bson.M{
		"$set":         bson.M{"name": "first"},
		"$inc":         bson.M{"n": 2},
		"$push":        bson.M{"tags": "a"},
		"$unset":       bson.M{"gone": ""},
		"$setOnInsert": bson.M{"created": created},
	}
	res, err := coll.UpdateOne(ctx, bson.M{"_id": "k"}, update, options.UpdateOne().SetUpsert(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := (counts{res.MatchedCount, res.ModifiedCount, res.UpsertedCount}); got != (counts{0, 0, 1}) || res.UpsertedID != "k" {
		t.Errorf("insert by upsert: %+v, id %v", got, res.UpsertedID)
	}

	update["$set"] = bson.M{"name": "second", "gone": nil}
	update["$setOnInsert"] = bson.M{"created": time.Now()} // ignored: no insert
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": "k"}, update, options.UpdateOne().SetUpsert(true)); err == nil {
		t.Error("$set and $unset of the same field: no conflict error")
	}
	update["$set"] = bson.M{"name": "second"}
	res, err = coll.UpdateOne(ctx, bson.M{"_id": "k"}, update, options.UpdateOne().SetUpsert(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := (counts{res.MatchedCount, res.ModifiedCount, res.UpsertedCount}); got != (counts{1, 1, 0}) || res.UpsertedID != nil {
		t.Errorf("update by upsert: %+v, id %v", got, res.UpsertedID)
	}
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": "k"}, bson.M{"$set": bson.M{"gone": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": "k"}, bson.M{"$unset": bson.M{"gone": ""}}); err != nil {
		t.Fatal(err)
	}

	var got bson.M
	if err := coll.FindOne(ctx, bson.M{"_id": "k"}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := bson.M{"_id": "k", "name": "second", "n": int32(4), "tags": bson.A{"a", "a"}, "created": bson.DateTime(created.UnixMilli())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

type counts struct{ matched, modified, upserted int64 }

func TestConditionalUpdate(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("sessions")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "s", "version": 1, "data": "old"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter bson.M
		want   counts
	}{
		{"current version matches", bson.M{"_id": "s", "version": 1}, counts{1, 1, 0}},
		{"stale version", bson.M{"_id": "s", "version": 1}, counts{0, 0, 0}},
		{"new version", bson.M{"_id": "s", "version": 2}, counts{1, 1, 0}},
		{"missing document", bson.M{"_id": "nope"}, counts{0, 0, 0}},
	}
	for _, tt := range tests {
		res, err := coll.UpdateOne(ctx, tt.filter, bson.M{"$set": bson.M{"data": tt.name}, "$inc": bson.M{"version": 1}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := (counts{res.MatchedCount, res.ModifiedCount, res.UpsertedCount}); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// "Update only if it still exists": a deleted document is not brought back.
	if _, err := coll.DeleteOne(ctx, bson.M{"_id": "s"}); err != nil {
		t.Fatal(err)
	}
	res, err := coll.UpdateOne(ctx, bson.M{"_id": "s"}, bson.M{"$set": bson.M{"data": "late save"}})
	if err != nil || res.MatchedCount != 0 {
		t.Errorf("update after delete: %+v, %v", res, err)
	}
	if n, err := coll.CountDocuments(ctx, bson.M{}); err != nil || n != 0 {
		t.Errorf("after update of a deleted document: %d documents, %v", n, err)
	}
}

func TestFindOneAndUpdate(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("counters")
	after := options.FindOneAndUpdate().SetReturnDocument(options.After)

	var got struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	err := coll.FindOneAndUpdate(ctx, bson.M{"_id": "c"}, bson.M{"$inc": bson.M{"n": 1}}, after).Decode(&got)
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Errorf("missing document: %v; want ErrNoDocuments", err)
	}
	for want := 1; want <= 3; want++ {
		err := coll.FindOneAndUpdate(ctx, bson.M{"_id": "c"}, bson.M{"$inc": bson.M{"n": 1}}, options.FindOneAndUpdate().SetReturnDocument(options.After).SetUpsert(true)).Decode(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "c" || got.N != want {
			t.Errorf("after %d increments: %+v", want, got)
		}
	}
	// ReturnDocument Before (the default) returns the old value.
	if err := coll.FindOneAndUpdate(ctx, bson.M{"_id": "c"}, bson.M{"$set": bson.M{"n": 10}}).Decode(&got); err != nil || got.N != 3 {
		t.Errorf("before image: %+v, %v", got, err)
	}
}

func TestDatesSortLimitCount(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("events")
	now := time.Now().UTC().Truncate(time.Millisecond)
	var docs []any
	for i := range 10 {
		docs = append(docs, bson.M{"i": i, "at": now.Add(time.Duration(i-5) * time.Minute)})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	res, err := coll.DeleteMany(ctx, bson.M{"at": bson.M{"$lt": now}})
	if err != nil || res.DeletedCount != 5 {
		t.Fatalf("DeleteMany $lt now: %+v, %v; want 5 deleted", res, err)
	}
	n, err := coll.CountDocuments(ctx, bson.M{"i": bson.M{"$gte": 7}})
	if err != nil || n != 3 {
		t.Errorf("CountDocuments: %d, %v; want 3", n, err)
	}
	cur, err := coll.Find(ctx, bson.M{}, options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		I  int       `bson:"i"`
		At time.Time `bson:"at"`
	}
	if err := cur.All(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].I != 9 || got[1].I != 8 || !got[0].At.Equal(now.Add(4*time.Minute)) {
		t.Errorf("sort at desc, limit 2: %+v", got)
	}
}

func TestObjectIDAndTimeRoundTrip(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("c")
	id := bson.NewObjectID()
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CET", 3600))
	if _, err := coll.InsertOne(ctx, bson.M{"_id": id, "ref": id, "at": at}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID  bson.ObjectID `bson:"_id"`
		Ref bson.ObjectID `bson:"ref"`
		At  time.Time     `bson:"at"`
	}
	if err := coll.FindOne(ctx, bson.M{"ref": id}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Ref != id {
		t.Errorf("ObjectIDs: %v, %v; want %v", got.ID, got.Ref, id)
	}
	// BSON dates hold milliseconds; the driver decodes them in UTC.
	want := time.Date(2024, 5, 6, 6, 8, 9, 123000000, time.UTC)
	if !got.At.Equal(want) || got.At.Location() != time.UTC {
		t.Errorf("time: %v (%v); want %v", got.At, got.At.Location(), want)
	}
}

func TestTransactionsUnsupported(t *testing.T) {
	if enginetest.UsingMongoDB() {
		t.Skip("on MongoDB, transactions depend on the deployment (replica set or not)")
	}
	ctx := context.Background()
	db := enginetest.DB(t)
	sess, err := db.Client().StartSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.EndSession(ctx)
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
		return db.Collection("c").InsertOne(ctx, bson.M{"x": 1})
	})
	var ce mongo.CommandError
	if !errors.As(err, &ce) || ce.Code != 9 {
		t.Errorf("transaction: %#v; want CommandError 9 (FailedToParse)", err)
	}
	if n, err := db.Collection("c").CountDocuments(ctx, bson.M{}); err != nil || n != 0 {
		t.Errorf("after the failed transaction: %d documents, %v", n, err)
	}
}

// TestUpdatesAreAtomic would fail on bare FerretDB v1, which loses
// concurrent updates (it reads, modifies and writes back without a
// transaction); the engine's proxy serializes them.
func TestUpdatesAreAtomic(t *testing.T) {
	ctx := context.Background()
	coll := enginetest.DB(t).Collection("c")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "cas", "version": 0}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	lost := map[string]int{} // upserts that lost their insert to another (duplicate key), as can happen on MongoDB
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for range each {
				_, err := coll.UpdateOne(ctx, bson.M{"_id": "inc"}, bson.M{"$inc": bson.M{"n": 1}}, options.UpdateOne().SetUpsert(true))
				if mongo.IsDuplicateKeyError(err) {
					mu.Lock()
					lost["inc"]++
					mu.Unlock()
				} else if err != nil {
					errs <- err
				}
				err = coll.FindOneAndUpdate(ctx, bson.M{"_id": "fam"}, bson.M{"$inc": bson.M{"n": 1}}, options.FindOneAndUpdate().SetUpsert(true)).Err()
				if mongo.IsDuplicateKeyError(err) {
					mu.Lock()
					lost["fam"]++
					mu.Unlock()
				} else if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
					errs <- err
				}
			}
			// Compare-and-set: only one worker may move version 0 to 1.
			res, err := coll.UpdateOne(ctx, bson.M{"_id": "cas", "version": 0}, bson.M{"$set": bson.M{"version": 1, "by": w}})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			wins += int(res.ModifiedCount)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if wins != 1 {
		t.Errorf("compare-and-set succeeded %d times, want 1", wins)
	}
	for _, id := range []string{"inc", "fam"} {
		var got struct{ N int }
		if err := coll.FindOne(ctx, bson.M{"_id": id}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if want := workers*each - lost[id]; got.N != want {
			t.Errorf("%s: n = %d after %d concurrent increments (%d lost to duplicate keys); want %d", id, got.N, workers*each, lost[id], want)
		}
	}
}
