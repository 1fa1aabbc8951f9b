package auth_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"

	"github.com/aspengo/aspengo/trembling/auth"
)

// testCost keeps bcrypt fast in tests: bcrypt's own minimum.
const testCost = auth.LowestCost

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newUsers returns a Users on db with opts, at testCost unless opts says
// otherwise, with its indexes made.
func newUsers(t testing.TB, db *mongo.Database, opts auth.Options) *auth.Users {
	t.Helper()
	if opts.Cost == 0 {
		opts.Cost = testCost
	}
	u, err := auth.NewUsers(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	return u
}

func mustCreate(t testing.TB, u *auth.Users, username, password string) auth.User {
	t.Helper()
	user, err := u.Create(t.Context(), username, password, "")
	if err != nil {
		t.Fatalf("Create(%q): %v", username, err)
	}
	return user
}

// storedCost returns the bcrypt cost of username's stored hash, read
// directly from the collection.
func storedCost(t *testing.T, db *mongo.Database, username string) int {
	t.Helper()
	var doc struct {
		Hash string `bson:"password_hash"`
	}
	err := db.Collection(auth.UsersCollection).FindOne(t.Context(), bson.D{{Key: "username", Value: username}}).Decode(&doc)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := bcrypt.Cost([]byte(strings.TrimPrefix(doc.Hash, auth.PepperedPrefix)))
	if err != nil {
		t.Fatalf("stored hash %q: %v", doc.Hash, err)
	}
	return cost
}
