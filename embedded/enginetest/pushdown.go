package enginetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// AssertPushedDown fails the test unless every query shape that reads
// coll with filter is answered through an index, without reading the whole
// collection. It is the guard a package puts on the queries it makes on a
// request path, e.g.
//
//	enginetest.AssertPushedDown(t, db.Collection("sessions"), bson.D{{Key: "_id", Value: key}})
//
// The collection must exist (insert a document first): an engine explains
// nothing about a missing collection. See CheckPushedDown for what is
// asked and checked.
func AssertPushedDown(t testing.TB, coll *mongo.Collection, filter any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), OperationTimeout)
	defer cancel()
	if err := CheckPushedDown(ctx, coll, filter); err != nil {
		t.Errorf("enginetest: %s.%s %v: %v", coll.Database().Name(), coll.Name(), filter, err)
	}
}

// CheckPushedDown asks coll's server to explain, for filter, a find, a
// find with limit 1 (FindOne) and the aggregation CountDocuments runs
// ($match, then $group), and returns an error describing each one that is
// not indexed.
//
// On the embedded engine (FerretDB), a query is indexed when the explain
// output reports filterPushdown (FerretDB turned the filter into SQL; it
// does so only for exactly {_id: <string or ObjectID>}) and SQLite's query
// plan, which FerretDB includes, searches an index and scans nothing.
// FerretDB's explain of a count command ignores its query, so count is not
// asked; count uses the same SQL as find. SQLite does not check, when it
// explains a statement, that its connection's copy of the schema is
// current (it does when it runs one), so a connection of FerretDB's that
// has run nothing since an index was made explains without it: each
// query is therefore run a few times first, which refreshes FerretDB's
// idle connections. On MongoDB, a query is indexed when its winning plan
// has no COLLSCAN stage.
func CheckPushedDown(ctx context.Context, coll *mongo.Collection, filter any) error {
	name := coll.Name()
	shapes := []struct {
		what string
		cmd  bson.D
	}{
		{"find", bson.D{{Key: "find", Value: name}, {Key: "filter", Value: filter}}},
		{"find limit 1", bson.D{{Key: "find", Value: name}, {Key: "filter", Value: filter}, {Key: "limit", Value: 1}, {Key: "singleBatch", Value: true}}},
		{"aggregate (CountDocuments)", bson.D{{Key: "aggregate", Value: name}, {Key: "pipeline", Value: bson.A{
			bson.D{{Key: "$match", Value: filter}},
			bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: 1}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		}}, {Key: "cursor", Value: bson.D{}}}},
	}
	var errs []error
	for _, s := range shapes {
		for range warmRuns {
			if err := coll.Database().RunCommand(ctx, s.cmd).Err(); err != nil {
				return fmt.Errorf("%s: %w", s.what, err)
			}
		}
		var out bson.Raw
		err := coll.Database().RunCommand(ctx, bson.D{{Key: "explain", Value: s.cmd}}).Decode(&out)
		if err == nil {
			err = checkExplain(out)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.what, err))
		}
	}
	return errors.Join(errs...)
}

// warmRuns is how many times CheckPushedDown runs a query before it
// explains it: more than the idle connections FerretDB's pool keeps.
const warmRuns = 4

// checkExplain reads one explain output.
func checkExplain(out bson.Raw) error {
	pd, err := out.LookupErr("filterPushdown")
	if err != nil {
		// MongoDB: no collection scan anywhere in the plan.
		if strings.Contains(out.String(), `"COLLSCAN"`) {
			return errors.New("the plan scans the collection (COLLSCAN)")
		}
		return nil
	}
	if pushed, ok := pd.BooleanOK(); !ok || !pushed {
		return errors.New("FerretDB did not push the filter down to SQL: it reads and filters every document (only exactly {_id: <string or ObjectID>} is pushed down)")
	}
	plan, err := out.LookupErr("queryPlanner", "Plan")
	if err != nil {
		return errors.New("no SQLite query plan in the explain output (does the collection exist?)")
	}
	lines, err := plan.Array().Values()
	if err != nil || len(lines) == 0 {
		return errors.New("empty SQLite query plan (does the collection exist?)")
	}
	var indexed bool
	for _, l := range lines {
		s, _ := l.StringValueOK()
		_, detail, _ := strings.Cut(s, "detail=")
		switch {
		case strings.HasPrefix(detail, "SCAN "):
			return fmt.Errorf("SQLite scans the table: %q", detail)
		case strings.HasPrefix(detail, "SEARCH ") && strings.Contains(detail, " USING INDEX "):
			indexed = true
		}
	}
	if !indexed {
		return fmt.Errorf("SQLite's plan uses no index: %v", plan)
	}
	return nil
}
