package embedded_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

// sessionID is the _id of the i-th prefilled session: 43 base64url
// characters, like a session key's hash.
func sessionID(i int) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionDoc is a sessions-shaped document.
func sessionDoc(id string, expires time.Time) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "expiresAt", Value: expires},
		{Key: "data", Value: bson.D{
			{Key: "user", Value: "alice"},
			{Key: "csrf", Value: "0123456789abcdef"},
			{Key: "n", Value: 1},
		}},
	}
}

// prefillSessions inserts n sessions-shaped documents into coll, in large
// batches.
func prefillSessions(tb testing.TB, coll *mongo.Collection, n int) {
	tb.Helper()
	const batch = 10_000
	expires := time.Now().Add(24 * time.Hour)
	docs := make([]any, 0, batch)
	for i := 0; i < n; i += batch {
		docs = docs[:0]
		for j := i; j < min(i+batch, n); j++ {
			docs = append(docs, sessionDoc(sessionID(j), expires))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		cancel()
		if err != nil {
			tb.Fatalf("prefill %d sessions: %v", n, err)
		}
	}
}

// BenchmarkSessionsByID measures the requests a session store makes, by
// _id, on a sessions-shaped collection prefilled with 1 k, 100 k and (not
// with -short) 1 M documents: FindOne, UpdateOne with $set, and DeleteOne
// followed by InsertOne. On the embedded engine, the cost at 1 M should be
// at most 1.5 times the cost at 1 k.
func BenchmarkSessionsByID(b *testing.B) {
	sizes := []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}}
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			if size.n >= 1_000_000 && testing.Short() {
				b.Skip("1 M documents: not with -short")
			}
			coll := enginetest.DB(b).Collection("sessions")
			prefillSessions(b, coll, size.n)
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(1, uint64(size.n)))

			b.Run("FindOne", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					id := sessionID(rnd.IntN(size.n))
					if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("UpdateOne", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					id := sessionID(rnd.IntN(size.n))
					res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
						bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: time.Now().Add(time.Hour)}, {Key: "data.n", Value: 2}}}})
					if err != nil {
						b.Fatal(err)
					}
					if res.MatchedCount != 1 {
						b.Fatalf("UpdateOne %s matched %d", id, res.MatchedCount)
					}
				}
			})
			b.Run("DeleteInsert", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					id := sessionID(rnd.IntN(size.n))
					res, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
					if err != nil {
						b.Fatal(err)
					}
					if res.DeletedCount != 1 {
						b.Fatalf("DeleteOne %s deleted %d", id, res.DeletedCount)
					}
					if _, err := coll.InsertOne(ctx, sessionDoc(id, time.Now().Add(time.Hour))); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
