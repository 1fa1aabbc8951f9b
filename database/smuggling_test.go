package database_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/database"
)

// TestOperatorSmuggling runs attack inputs through the collection methods.
// The values named evil are decoded with json.decode, as request.json
// would give them. A case with want == "" must be accepted and give
// result; any other case must be refused with an error containing want,
// and must leave the data unchanged.
func TestOperatorSmuggling(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	tests := []struct {
		name   string
		evil   string // JSON
		call   string // a collection call on db.users
		want   string // error substring, "" when accepted
		result string // repr of the result when accepted
	}{
		// Filters: operators that run code or patterns are refused everywhere.
		{"top $where", `"sleep(1000) || true"`, `find_one({"$where": evil})`, "operator $where is not allowed", ""},
		{"top $where via dict", `{"$where": "true"}`, `find_one(evil)`, "operator $where is not allowed", ""},
		{"field $where", `{"$where": "true"}`, `find_one({"name": evil})`, "name: operator $where is not allowed", ""},
		{"field $regex", `{"$regex": ".*"}`, `find_one({"name": evil})`, "name: operator $regex is not allowed", ""},
		{"field $regex in count", `{"$regex": "^a"}`, `count({"name": evil})`, "operator $regex is not allowed", ""},
		{"top $expr", `{"$expr": {"$eq": [1, 1]}}`, `find(evil)`, "operator $expr is not allowed", ""},
		{"field $function", `{"$function": {"body": "return true", "args": [], "lang": "js"}}`, `find({"name": evil})`, "operator $function is not allowed", ""},
		{"field $not", `{"$not": {"$eq": "x"}}`, `find({"name": evil})`, "operator $not is not allowed", ""},
		{"field $elemMatch", `{"$elemMatch": {"$gt": 0}}`, `find({"tags": evil})`, "operator $elemMatch is not allowed", ""},
		{"top $comment", `"x"`, `find({"$comment": evil})`, "operator $comment is not allowed", ""},
		{"top $text", `{"$search": "a"}`, `find({"$text": evil})`, "operator $text is not allowed", ""},
		{"top $jsonSchema", `{}`, `find({"$jsonSchema": evil})`, "operator $jsonSchema is not allowed", ""},
		{"$or hides $regex", `[{"name": {"$regex": "a"}}]`, `find({"$or": evil})`, "$or[0].name: operator $regex is not allowed", ""},
		{"$and hides $where", `[{"$where": "1"}]`, `find({"$and": evil})`, "$and[0]: operator $where is not allowed", ""},
		{"$or not a list", `"x"`, `find({"$or": evil})`, "$or takes a non-empty list", ""},
		{"$or empty", `[]`, `find({"$or": evil})`, "$or takes a non-empty list", ""},
		{"$or of strings", `["x"]`, `find({"$or": evil})`, "takes a list of filters (dicts), not str", ""},
		// Operators nested in operator values or in data.
		{"$eq of operator", `{"$ne": null}`, `find_one({"name": {"$eq": evil}})`, "name.$eq: field name \"$ne\" starts with $", ""},
		{"$in of operator", `[{"$ne": null}]`, `find_one({"name": {"$in": evil}})`, "name.$in[0]: field name \"$ne\" starts with $", ""},
		{"$in not a list", `"ann"`, `find_one({"name": {"$in": evil}})`, "$in takes a list, not str", ""},
		{"$exists not bool", `"yes"`, `find_one({"name": {"$exists": evil}})`, "$exists takes True or False, not str", ""},
		{"mixed operator and field", `{"$gt": "", "x": 1}`, `find_one({"name": evil})`, "mixes operators and the field", ""},
		{"operator deep in embedded doc", `{"a": {"$gt": 1}}`, `find_one({"profile": evil})`, `profile.a: field name "$gt" starts with $`, ""},
		{"operator in array value", `[{"$gt": 1}]`, `find_one({"tags": evil})`, `tags[0]: field name "$gt" starts with $`, ""},
		{"$ in a field path", `1`, `find_one({"a.$where": evil})`, "has a part that starts with $", ""},
		{"empty path part", `1`, `find_one({"a..b": evil})`, "has an empty part", ""},
		{"NUL in field", `1`, `find_one({"a\x00": evil})`, "NUL byte", ""},
		{"delete with $where", `{"$where": "true"}`, `delete_one(evil)`, "operator $where is not allowed", ""},
		{"update filter with $regex", `{"$regex": "."}`, `update_one({"name": evil}, {"$set": {"x": 1}})`, "operator $regex is not allowed", ""},
		// Documents to store.
		{"insert operator value", `{"$gt": ""}`, `insert_one({"name": "x", "role": evil})`, `role: field name "$gt" starts with $`, ""},
		{"insert operator doc", `{"$set": {"role": "admin"}}`, `insert_one(evil)`, `field name "$set" starts with $`, ""},
		{"insert dotted key", `{"a.b": 1}`, `insert_one(evil)`, `field name "a.b" contains a dot`, ""},
		{"insert deep operator", `{"list": [{"x": {"$x": 1}}]}`, `insert_one(evil)`, `list[0].x: field name "$x" starts with $`, ""},
		{"insert empty key", `{"": 1}`, `insert_one(evil)`, "empty field name", ""},
		// Updates.
		{"replacement document", `{"name": "mallory"}`, `update_one({"name": "ann"}, evil)`, "is not an operator", ""},
		{"unsupported update op", `{"$where": "1"}`, `update_one({"name": "ann"}, evil)`, "update operator $where is not supported", ""},
		{"$set operator value", `{"$gt": ""}`, `update_one({"name": "ann"}, {"$set": {"role": evil}})`, `$set.role: field name "$gt" starts with $`, ""},
		{"$set operator field", `{"$where": 1}`, `update_one({"name": "ann"}, {"$set": evil})`, "has a part that starts with $", ""},
		{"$set dotted body key", `{"a.b": 1}`, `update_one({"name": "ann"}, {"$set": {"profile": evil}})`, `field name "a.b" contains a dot`, ""},
		{"$push unknown modifier", `{"$where": "x"}`, `update_one({"name": "ann"}, {"$push": {"tags": evil}})`, `$push does not take "$where"`, ""},
		{"$push $each not list", `{"$each": "x"}`, `update_one({"name": "ann"}, {"$push": {"tags": evil}})`, "$each takes a list", ""},
		{"$push $each of operators", `{"$each": [{"$gt": 1}]}`, `update_one({"name": "ann"}, {"$push": {"tags": evil}})`, `field name "$gt" starts with $`, ""},
		{"$addToSet $slice", `{"$each": ["a"], "$slice": 1}`, `update_one({"name": "ann"}, {"$addToSet": {"tags": evil}})`, `$addToSet does not take "$slice"`, ""},
		{"$pull $regex", `{"$regex": "a"}`, `update_one({"name": "ann"}, {"$pull": {"tags": evil}})`, "operator $regex is not allowed", ""},
		{"$pull $where in sub-filter", `{"x": {"$where": "1"}}`, `update_one({"name": "ann"}, {"$pull": {"items": evil}})`, "operator $where is not allowed", ""},
		{"$currentDate other", `{"$type": {"$x": 1}}`, `update_one({"name": "ann"}, {"$currentDate": {"at": evil}})`, "$currentDate takes True", ""},
		{"$inc operator", `{"$x": 1}`, `update_one({"name": "ann"}, {"$inc": {"n": evil}})`, `field name "$x" starts with $`, ""},

		// Accepted: what pages legitimately write. A value from a form is a
		// str and only ever matches as data.
		{"form string that looks like an operator", `"{\"$ne\": null}"`, `find_one({"name": evil})`, "", "None"},
		{"string with $", `"$ne"`, `count({"name": evil})`, "", "0"},
		{"comparison", `{"$gte": "b"}`, `count({"name": evil})`, "", "1"},
		{"$in list", `["ann", "bob"]`, `count({"name": {"$in": evil}})`, "", "2"},
		{"$nin list", `["ann"]`, `count({"name": {"$nin": evil}})`, "", "1"},
		{"$exists", `true`, `count({"pw": {"$exists": evil}})`, "", "2"},
		{"$or of fields", `[{"name": "ann"}, {"name": "bob"}]`, `count({"$or": evil})`, "", "2"},
		{"$and with comparisons", `[{"name": "ann"}, {"pw": {"$in": ["x", "y"]}}]`, `count({"$and": evil})`, "", "1"},
		{"$nor", `[{"name": "ann"}]`, `count({"$nor": evil})`, "", "1"},
		{"embedded document equality", `{"city": "Oslo"}`, `count({"profile": evil})`, "", "1"},
		{"dotted path", `"Oslo"`, `count({"profile.city": evil})`, "", "1"},
		{"$set data", `{"city": "Bergen"}`, `update_one({"name": "ann"}, {"$set": {"profile": evil}})`, "", "1"},
		{"$set dotted path", `"Bergen"`, `update_one({"name": "ann"}, {"$set": {"profile.city": evil}})`, "", "1"},
		{"$push $each", `{"$each": ["c", "d"]}`, `update_one({"name": "ann"}, {"$push": {"tags": evil}})`, "", "1"},
		{"$addToSet $each", `{"$each": ["a", "z"]}`, `update_one({"name": "ann"}, {"$addToSet": {"tags": evil}})`, "", "1"},
		{"$pull value", `"a"`, `update_one({"name": "ann"}, {"$pull": {"tags": evil}})`, "", "1"},
		// (The embedded engine accepts this but removes nothing, so the
		// result is not checked.)
		{"$pull comparison", `{"$in": ["a", "b"]}`, `update_one({"name": "ann"}, {"$pull": {"tags": evil}})`, "", ""},
		{"$unset", `""`, `update_one({"name": "ann"}, {"$unset": {"pw": evil}})`, "", "1"},
		{"$currentDate", `true`, `update_one({"name": "ann"}, {"$currentDate": {"seen": evil}})`, "", "1"},
		{"insert data", `{"name": "carol", "profile": {"city": "Rome"}, "tags": []}`, `insert_one(evil) != None`, "", "True"},
		// The documented residual: a dict from request.json put as a
		// field's value can be a comparison. Pages check request.json types.
		{"residual: comparison from JSON", `{"$ne": null}`, `count({"pw": evil})`, "", "2"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := fmt.Sprintf("users%d", i)
			seed := []any{
				bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "ann"}, {Key: "pw", Value: "x"}, {Key: "profile", Value: bson.D{{Key: "city", Value: "Oslo"}}}, {Key: "tags", Value: bson.A{"a", "b"}}},
				bson.D{{Key: "_id", Value: 2}, {Key: "name", Value: "bob"}, {Key: "pw", Value: "y"}},
			}
			ctx := t.Context()
			if _, err := h.Database().Collection(coll).InsertMany(ctx, seed); err != nil {
				t.Fatal(err)
			}
			src := "evil = json.decode(evil_json)\nr = db." + coll + "." + tt.call
			pre := env(h)
			pre["evil_json"] = starlark.String(tt.evil)
			g, err := run(t, nil, pre, src)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s with evil=%s: %v; want an error containing %q", tt.call, tt.evil, err, tt.want)
				}
				// A website answers it with a 400, not a 500.
				var qe *database.QueryError
				if !errors.As(err, &qe) || qe.HTTPStatus() != http.StatusBadRequest {
					t.Errorf("%s with evil=%s: error %T does not wrap a *database.QueryError with status 400", tt.call, tt.evil, err)
				}
				// Nothing changed.
				n, err := h.Database().Collection(coll).CountDocuments(ctx, bson.D{{Key: "name", Value: "ann"}, {Key: "pw", Value: "x"}, {Key: "profile.city", Value: "Oslo"}})
				if err != nil || n != 1 {
					t.Errorf("ann changed after a refused call (%d, %v)", n, err)
				}
				total, err := h.Database().Collection(coll).CountDocuments(ctx, bson.D{})
				if err != nil || total != 2 {
					t.Errorf("%d documents after a refused call (%v), want 2", total, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s with evil=%s: %v", tt.call, tt.evil, errorText(err))
			}
			if got := g["r"].String(); tt.result != "" && got != tt.result {
				t.Errorf("%s with evil=%s = %s, want %s", tt.call, tt.evil, got, tt.result)
			}
		})
	}
}
