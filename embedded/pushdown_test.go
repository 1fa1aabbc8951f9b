package embedded_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

// TestIDLookupsArePushedDown asks the engine to explain a lookup by _id on
// collections named as aspengo's: each must be pushed down and indexed.
func TestIDLookupsArePushedDown(t *testing.T) {
	db := enginetest.DB(t)
	ctx := t.Context()
	for _, name := range []string{"sessions", "users", "login_failures"} {
		coll := db.Collection(name)
		docs := []any{
			bson.D{{Key: "_id", Value: "k1"}, {Key: "expiresAt", Value: time.Now()}},
			bson.D{{Key: "_id", Value: bson.NewObjectID()}},
			bson.D{{Key: "_id", Value: "k2"}},
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		enginetest.AssertPushedDown(t, coll, bson.D{{Key: "_id", Value: "k1"}})
		enginetest.AssertPushedDown(t, coll, bson.D{{Key: "_id", Value: "missing"}})
		enginetest.AssertPushedDown(t, coll, bson.D{{Key: "_id", Value: bson.NewObjectID()}})
	}
}

// TestCheckPushedDownCatchesScans checks that the guard fails for filters
// the engine does not push down, and for a collection scan.
func TestCheckPushedDownCatchesScans(t *testing.T) {
	db := enginetest.DB(t)
	ctx := t.Context()
	coll := db.Collection("sessions")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "k"}, {Key: "expiresAt", Value: time.Now()}, {Key: "username", Value: "ann"}}); err != nil {
		t.Fatal(err)
	}
	filters := []struct {
		name   string
		filter any
	}{
		{"_id and expiresAt", bson.D{{Key: "_id", Value: "k"}, {Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: time.Now()}}}}},
		{"another field", bson.D{{Key: "username", Value: "ann"}}},
		{"empty", bson.D{}},
	}
	if !enginetest.UsingMongoDB() {
		// MongoDB uses the _id index for this one; FerretDB does not.
		filters = append(filters, struct {
			name   string
			filter any
		}{"$eq on _id", bson.D{{Key: "_id", Value: bson.D{{Key: "$eq", Value: "k"}}}}})
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, enginetest.OperationTimeout)
			defer cancel()
			err := enginetest.CheckPushedDown(ctx, coll, f.filter)
			if err == nil {
				t.Fatal("CheckPushedDown passed a filter that is not indexed")
			}
			for _, shape := range []string{"find:", "find limit 1:", "aggregate (CountDocuments):"} {
				if !strings.Contains(err.Error(), shape) {
					t.Errorf("error does not report %q: %v", shape, err)
				}
			}
		})
	}
}
