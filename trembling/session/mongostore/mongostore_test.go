package mongostore_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/mongostore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

func newStore(t testing.TB) *mongostore.Store {
	s := mongostore.New(enginetest.DB(t))
	s.Logger = quiet
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	// A second store over the same database is a second process.
	opts := []sessiontest.Option{sessiontest.WithPeer(func(s session.Store) session.Store {
		peer := mongostore.New(s.(*mongostore.Store).Database())
		peer.Logger = quiet
		return peer
	})}
	if os.Getenv(enginetest.EnvEngine) == enginetest.EngineServer {
		opts = append(opts, sessiontest.WithoutNUL())
	}
	sessiontest.TestStore(t, func(t *testing.T) session.Store { return newStore(t) }, opts...)
}

func TestManager(t *testing.T) {
	sessiontest.TestManager(t, func(t *testing.T) *session.Manager {
		return &session.Manager{Store: newStore(t)}
	})
}

// TestEnsureIndexes checks that EnsureIndexes is idempotent and creates a
// TTL index where the server has them (MongoDB), and no index at all on
// the embedded engine, where one would only slow down every write.
func TestEnsureIndexes(t *testing.T) {
	db := enginetest.DB(t)
	s := mongostore.New(db)
	s.Logger = quiet
	ctx := t.Context()
	for range 2 { // idempotent
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatalf("EnsureIndexes: %v", err)
		}
	}
	specs, err := db.Collection(mongostore.Collection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ttl, plain int
	for _, sp := range specs {
		if _, err := sp.KeysDocument.LookupErr("expiresAt"); err == nil {
			if sp.ExpireAfterSeconds != nil {
				ttl++
			} else {
				plain++
			}
		}
	}
	switch {
	case plain > 0:
		t.Errorf("a plain index on expiresAt among %v: it serves no request", specs)
	case enginetest.UsingMongoDB() && ttl != 1:
		t.Errorf("MongoDB: %d TTL indexes on expiresAt among %v, want 1", ttl, specs)
	}
}

// TestDocument checks the stored form: the id is the hash, expiresAt is a
// date equal to the earlier expiry, data is a document with escaped keys
// and int64 as long.
func TestDocument(t *testing.T) {
	db := enginetest.DB(t)
	s := mongostore.New(db)
	ctx := context.Background()
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	id := session.Hash(tok)
	now := time.Now().Truncate(time.Millisecond)
	r := session.Record{
		Data:            map[string]any{"n": int64(7), "a.b": "x", "": "e", "$x": []any{int64(1)}, "grid": []any{[]any{int64(1)}, []any{}}, "%L": "k"},
		Created:         now,
		IdleExpires:     now.Add(2 * time.Hour),
		AbsoluteExpires: now.Add(time.Hour),
	}
	if err := s.Create(ctx, id, r); err != nil {
		t.Fatal(err)
	}
	raw, err := db.Collection(mongostore.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := raw.Lookup("expiresAt").TimeOK(); !ok || !got.Equal(r.AbsoluteExpires) {
		t.Errorf("expiresAt = %v (date %v), want %v", raw.Lookup("expiresAt"), ok, r.AbsoluteExpires)
	}
	data := raw.Lookup("data").Document()
	for key, typ := range map[string]bson.Type{"n": bson.TypeInt64, "a%2Eb": bson.TypeString, "%": bson.TypeString, "%24x": bson.TypeArray, "grid": bson.TypeArray, "%25L": bson.TypeString} {
		if v, err := data.LookupErr(key); err != nil || v.Type != typ {
			t.Errorf("data.%s: %v %v, want %v", key, v.Type, err, typ)
		}
	}
	if got := data.Lookup("grid").Array().Index(0).Document().Lookup("%L").Type; got != bson.TypeArray {
		t.Errorf("grid[0] stored as %v, want a document wrapping an array", got)
	}
	if bytes.Contains(raw, []byte(tok.String())) || bytes.Contains(raw, tok[:]) {
		t.Errorf("the stored document contains the token")
	}
	if got := raw.Lookup("_id").StringValue(); got != id {
		t.Errorf("_id = %q, want the hash %q", got, id)
	}
}

// int32ID is a session id of the form the Manager makes.
var int32ID = strings.Repeat("ab", 32)

// TestInt32 checks that an int32 written by another program reads back as
// int64.
func TestInt32(t *testing.T) {
	db := enginetest.DB(t)
	s := mongostore.New(db)
	ctx := context.Background()
	now := time.Now()
	_, err := db.Collection(mongostore.Collection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: int32ID},
		{Key: "data", Value: bson.D{{Key: "n", Value: int32(5)}, {Key: "l", Value: bson.A{int32(6)}}}},
		{Key: "created", Value: now},
		{Key: "idleExpires", Value: now.Add(time.Hour)},
		{Key: "absoluteExpires", Value: now.Add(time.Hour)},
		{Key: "expiresAt", Value: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := s.Find(ctx, int32ID)
	if err != nil || !ok {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	if r.Data["n"] != int64(5) || r.Data["l"].([]any)[0] != int64(6) {
		t.Errorf("data = %#v, want int64s", r.Data)
	}
}

// TestSweep runs Store.Sweep with the store's clock (Store.Now) as its
// witness: a sweep reads it once, as it begins, so the second reading
// comes after the first sweep is done, without waiting on the real clock.
func TestSweep(t *testing.T) {
	db := enginetest.DB(t)
	s := mongostore.New(db)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	now := time.Now().Truncate(time.Millisecond)
	expired := session.Record{Data: map[string]any{}, Created: now.Add(-time.Hour), IdleExpires: now.Add(-time.Minute), AbsoluteExpires: now.Add(time.Hour)}
	if err := s.Create(ctx, "expired", expired); err != nil {
		t.Fatal(err)
	}
	sweeps := make(chan struct{})
	s.Now = func() time.Time {
		select {
		case sweeps <- struct{}{}:
		case <-ctx.Done():
		}
		return now
	}
	done := make(chan struct{})
	go func() {
		s.Sweep(ctx, time.Millisecond)
		close(done)
	}()
	<-sweeps // the first sweep begins
	<-sweeps // the second: the first is done
	n, err := db.Collection(mongostore.Collection).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a sweep left %d expired documents", n)
	}
	cancel()
	<-done // Sweep returns once its context is canceled
}

func BenchmarkManager(b *testing.B) {
	sessiontest.BenchmarkManager(b, &session.Manager{Store: newStore(b)})
}

// BenchmarkSized measures a session read and save among 1 k, 100 k and
// 1 M stored sessions (see sessiontest.BenchmarkSized), on the embedded
// engine or MONGODB_URI.
func BenchmarkSized(b *testing.B) {
	sessiontest.BenchmarkSized(b, func(b *testing.B) session.Store { return newStore(b) })
}

// stillVersioner reports no change ever: right for a benchmark in which
// every write goes through the one store measured, which keeps its cache
// up to date itself.
type stillVersioner struct{}

func (stillVersioner) Version(db, coll, id string) uint64 { return 0 }

// BenchmarkSizedCached is BenchmarkSized with WithCache, large enough for
// every session: what reads and saves cost when the cache is valid.
func BenchmarkSizedCached(b *testing.B) {
	sessiontest.BenchmarkSized(b, func(b *testing.B) session.Store {
		s := newStore(b)
		return mongostore.New(s.Database(), mongostore.WithCache(stillVersioner{}, 2_000_000))
	})
}

// BenchmarkUserSessions measures the listing of one user's sessions
// among 1 k and 100 k stored sessions (see
// sessiontest.BenchmarkUserSessions), on the embedded engine by default.
func BenchmarkUserSessions(b *testing.B) {
	sessiontest.BenchmarkUserSessions(b, func(b *testing.B) session.Store { return newStore(b) })
}
