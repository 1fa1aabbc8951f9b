package embedded_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/aspengo/aspengo/embedded"
	"github.com/aspengo/aspengo/embedded/enginetest"
)

// BenchmarkOpenToFirstPing measures a cold start: Open on a new directory
// until the driver's first successful ping.
func BenchmarkOpenToFirstPing(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp(b.TempDir(), "")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		c, err := mongo.Connect(enginetest.ClientOptions(e.URI()))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Ping(ctx, readpref.Primary()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = c.Disconnect(ctx)
		if err := e.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkUpdateOne measures a serialized command ($inc upsert) through
// the proxy.
func BenchmarkUpdateOne(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	coll := enginetest.DB(b).Collection("c")
	upsert := options.UpdateOne().SetUpsert(true)
	for b.Loop() {
		if _, err := coll.UpdateOne(ctx, bson.M{"_id": "k"}, bson.M{"$inc": bson.M{"n": 1}, "$set": bson.M{"at": time.Now()}}, upsert); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindOne measures a read by _id through the proxy.
func BenchmarkFindOne(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	coll := enginetest.DB(b).Collection("c")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "k", "name": "x"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := coll.FindOne(ctx, bson.M{"_id": "k"}).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
