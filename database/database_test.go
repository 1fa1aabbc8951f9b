package database_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	starlarkjson "go.starlark.net/lib/json"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// testHandle returns a handle on a fresh database.
func testHandle(t testing.TB) *database.Handle {
	t.Helper()
	return database.NewHandle(enginetest.DB(t), enginetest.OperationTimeout)
}

// env is what the Starlark snippets see.
func env(h *database.Handle) starlark.StringDict {
	return starlark.StringDict{
		"db":       h,
		"ObjectId": database.ObjectIDBuiltin(),
		"time":     starlarktime.Module,
		"json":     starlarkjson.Module,
		"badstr":   starlark.String("\xff"), // not valid UTF-8
	}
}

var fileOptions = &syntax.FileOptions{TopLevelControl: true, GlobalReassign: true, While: true, Set: true}

// run executes src with predeclared on a new thread.
func run(t testing.TB, thread *starlark.Thread, predeclared starlark.StringDict, src string) (starlark.StringDict, error) {
	t.Helper()
	if thread == nil {
		thread = &starlark.Thread{Name: t.Name()}
	}
	return starlark.ExecFileOptions(fileOptions, thread, "test.star", src, predeclared)
}

// mustRun executes src and fails the test on error.
func mustRun(t testing.TB, predeclared starlark.StringDict, src string) starlark.StringDict {
	t.Helper()
	g, err := run(t, nil, predeclared, src)
	if err != nil {
		t.Fatalf("%s\n%v", src, errorText(err))
	}
	return g
}

func errorText(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ee.Backtrace()
	}
	return err.Error()
}

// reprs returns the Starlark repr of the named globals.
func reprs(g starlark.StringDict, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		if v, ok := g[n]; ok {
			m[n] = v.String()
		} else {
			m[n] = "<unset>"
		}
	}
	return m
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	g := mustRun(t, env(h), `
id = db.todos.insert_one({"title": "milk", "done": False, "n": 1})
id2 = db["todos"].insert_one({"_id": "k2", "title": "eggs", "done": False, "n": 2})
id_type = type(id)
got = db.todos.find_one({"_id": id})
title = got["title"]
keys = list(got.keys())
missing = db.todos.find_one({"title": "bread"})
n_all = db.todos.count()
n_open = db.todos.count({"done": False})
modified = db.todos.update_one({"_id": id}, {"$set": {"done": True}, "$inc": {"n": 10}})
modified_none = db.todos.update_one({"_id": "nope"}, {"$set": {"done": True}})
after = db.todos.find_one({"_id": id})
done, n = after["done"], after["n"]
n_open2 = db.todos.count({"done": False})
deleted = db.todos.delete_one({"_id": id2})
deleted_none = db.todos.delete_one({"_id": id2})
left = [d["title"] for d in db.todos.find()]
name = db.todos.name
`)
	got := reprs(g, "id2", "id_type", "title", "keys", "missing", "n_all", "n_open", "modified",
		"modified_none", "done", "n", "n_open2", "deleted", "deleted_none", "left", "name")
	want := map[string]string{
		"id2": `"k2"`, "id_type": `"ObjectId"`, "title": `"milk"`,
		"keys":    `["_id", "title", "done", "n"]`,
		"missing": "None", "n_all": "2", "n_open": "2", "modified": "1", "modified_none": "0",
		"done": "True", "n": "11", "n_open2": "1", "deleted": "1", "deleted_none": "0",
		"left": `["milk"]`, "name": `"todos"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}

	// The stored document, seen by the driver: the inserted _id is the
	// ObjectId returned, and the caller's dict was not changed.
	oid, ok := g["id"].(database.ObjectID)
	if !ok {
		t.Fatalf("insert_one returned %s, want an ObjectId", g["id"].Type())
	}
	var doc bson.D
	if err := h.Database().Collection("todos").FindOne(t.Context(), bson.D{{Key: "_id", Value: bson.ObjectID(oid)}}).Decode(&doc); err != nil {
		t.Fatalf("driver FindOne by the returned id: %v", err)
	}
	if doc[0].Key != "_id" || doc[1].Key != "title" {
		t.Errorf("stored document %v: want _id first, then the dict's order", doc)
	}
	g = mustRun(t, env(h), `
d = {"title": "x"}
db.todos.insert_one(d)
has_id = "_id" in d
`)
	if g["has_id"] != starlark.False {
		t.Error("insert_one added _id to the caller's dict")
	}
}

func TestFindSortLimit(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	mustRun(t, env(h), `
for title, prio in [("b", 2), ("a", 2), ("d", 1), ("c", 3)]:
    db.items.insert_one({"title": title, "prio": prio})
`)
	tests := []struct {
		call string
		want string
	}{
		{`find(sort="title")`, `["a", "b", "c", "d"]`},
		{`find(sort="-title")`, `["d", "c", "b", "a"]`},
		{`find(sort=["prio", "-title"])`, `["d", "b", "a", "c"]`},
		{`find(sort=[("prio", -1), ("title", 1)])`, `["c", "a", "b", "d"]`},
		{`find(sort=(("prio", 1), "title"))`, `["d", "a", "b", "c"]`},
		{`find(sort={"prio": 1, "title": -1})`, `["d", "b", "a", "c"]`},
		{`find(sort=("title", -1))`, `["d", "c", "b", "a"]`},
		{`find(sort=["title", -1])`, `["d", "c", "b", "a"]`},
		{`find({}, "title", 2)`, `["a", "b"]`},
		{`find(sort="title", limit=2, skip=1)`, `["b", "c"]`},
		{`find({"prio": 2}, sort="title")`, `["a", "b"]`},
		{`find({"prio": {"$gte": 2}}, sort="-prio", limit=1)`, `["c"]`},
		{`find(sort="title", limit=0)`, `["a", "b", "c", "d"]`},
		{`find({"title": "zzz"})`, `[]`},
	}
	for _, tt := range tests {
		g := mustRun(t, env(h), "r = [d['title'] for d in db.items."+tt.call+"]")
		if got := g["r"].String(); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.call, got, tt.want)
		}
	}

	bad := []struct{ call, want string }{
		{`find(sort=[("title", 2)])`, "must be 1 or -1"},
		{`find(sort=[("title", "up")])`, "must be 1 or -1"},
		{`find(sort=[("title",)])`, "not a (field, direction) pair"},
		{`find(sort=5)`, "sort must be"},
		{`find(sort=[5])`, "sort item must be"},
		{`find(sort="$natural")`, "starts with $"},
		{`find(sort="")`, "empty field name"},
		{`find(limit=-1)`, "must not be negative"},
		{`find(skip=-1)`, "must not be negative"},
		{`find([])`, "filter must be a dict"},
		{`find(filter="title")`, "filter must be a dict"},
	}
	for _, tt := range bad {
		_, err := run(t, nil, env(h), "db.items."+tt.call)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.call, err, tt.want)
		}
	}
}

func TestObjectID(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	g := mustRun(t, env(h), `
id = db.people.insert_one({"name": "ann"})
hex = str(id)
parsed = ObjectId(hex)
same = parsed == id
upper_same = ObjectId(hex.upper()) == id
found = db.people.find_one({"_id": ObjectId(hex)})["name"]
found_in = db.people.count({"_id": {"$in": [parsed]}})
by_str = db.people.find_one({"_id": hex})
as_key = {id: "yes"}[parsed]
in_set = parsed in set([id])
fresh = ObjectId()
differs = fresh != id
ordered = ObjectId("000000000000000000000001") < ObjectId("000000000000000000000002")
again = ObjectId(id) == id
enc = json.encode({"id": id})
created = id.time.unix > 0
`)
	hexStr := string(g["hex"].(starlark.String))
	if len(hexStr) != 24 || strings.Trim(hexStr, "0123456789abcdef") != "" {
		t.Errorf("str(id) = %q, want 24 lower-case hex digits", hexStr)
	}
	got := reprs(g, "same", "upper_same", "found", "found_in", "by_str", "as_key", "in_set", "differs", "ordered", "again", "enc", "created")
	want := map[string]string{
		"same": "True", "upper_same": "True", "found": `"ann"`, "found_in": "1",
		"by_str": "None", // a hex string is not an ObjectId
		"as_key": `"yes"`, "in_set": "True", "differs": "True", "ordered": "True", "again": "True",
		"enc": `"{\"id\":\"` + hexStr + `\"}"`, "created": "True",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if tv := g["id"].(database.ObjectID).TemplateValue(); tv != hexStr {
		t.Errorf("TemplateValue = %v, want %q", tv, hexStr)
	}

	for _, in := range []string{"", "xyz", "0123456789abcdef0123456g", "0123456789abcdef012345678", strings.Repeat("a", 200)} {
		pre := env(h)
		pre["s"] = starlark.String(in)
		_, err := run(t, nil, pre, `ObjectId(s)`)
		var ie *database.InvalidObjectIDError
		if !errors.As(err, &ie) {
			t.Errorf("ObjectId(%q): %v, want an *InvalidObjectIDError", in, err)
			continue
		}
		if ie.HTTPStatus() != 400 || len(ie.Input) > 64 || !strings.Contains(err.Error(), "24 hexadecimal digits") {
			t.Errorf("ObjectId(%q): status %d, input %q, message %q", in, ie.HTTPStatus(), ie.Input, err)
		}
	}
	if _, err := run(t, nil, env(h), `ObjectId(12)`); err == nil || !strings.Contains(err.Error(), "not int") {
		t.Errorf("ObjectId(12): %v, want a type error", err)
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	g := mustRun(t, env(h), `
t = time.from_timestamp(1714979289, 123456789)
db.events.insert_one({"_id": 1, "at": t, "list": [t]})
e = db.events.find_one({"_id": 1})
at = e["at"]
kind = type(at)
equal_ms = at == time.from_timestamp(1714979289, 123000000)
nanos = at.nanosecond
in_list = e["list"][0] == at
later = db.events.count({"at": {"$gt": time.from_timestamp(1714979289, 0)}})
earlier = db.events.count({"at": {"$lt": time.from_timestamp(1714979289, 0)}})
now_id = db.events.insert_one({"at": time.now()})
now_back = type(db.events.find_one({"_id": now_id})["at"])
`)
	got := reprs(g, "kind", "equal_ms", "nanos", "in_list", "later", "earlier", "now_back")
	want := map[string]string{
		"kind": `"time.time"`, "equal_ms": "True", "nanos": "123000000", "in_list": "True",
		"later": "1", "earlier": "0", "now_back": `"time.time"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if loc := g["at"].(starlarktime.Time); loc.String() == "" || !strings.HasSuffix(loc.String(), "UTC") {
		t.Errorf("date read back as %s, want UTC", loc)
	}
	var doc struct {
		At bson.DateTime `bson:"at"`
	}
	if err := h.Database().Collection("events").FindOne(t.Context(), bson.M{"_id": 1}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.At != bson.DateTime(1714979289123) {
		t.Errorf("stored date %d, want BSON date 1714979289123", doc.At)
	}
}

// TestStoredTypes checks, with the driver, the BSON types insert_one
// stores, and that they read back to the same Starlark values.
func TestStoredTypes(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	g := mustRun(t, env(h), `
doc = {
    "_id": "all",
    "none": None, "t": True, "f": False,
    "small": 42, "neg": -7, "big": 1 << 40, "min64": -(1 << 63),
    "float": 2.5, "str": "héllo", "bytes": b"\x00\x01\xff",
    "list": [1, "a", {"k": ["v"]}], "tuple": (1, 2),
    "nested": {"a": {"b": {"c": [None]}}},
    "oid": ObjectId("5f0c8e2a9d3b4c1a2b3c4d5e"),
}
db.c.insert_one(doc)
back = db.c.find_one({"_id": "all"})
doc["tuple"] = [1, 2]  # tuples come back as lists
same = back == doc
order = list(back.keys()) == list(doc.keys())
`)
	if g["same"] != starlark.True || g["order"] != starlark.True {
		t.Errorf("round trip: same=%v order=%v\nwrote %v\nread  %v", g["same"], g["order"], g["doc"], g["back"])
	}
	raw, err := h.Database().Collection("c").FindOne(t.Context(), bson.M{"_id": "all"}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bson.Type{}
	for _, k := range []string{"none", "t", "small", "neg", "big", "min64", "float", "str", "bytes", "list", "tuple", "nested", "oid"} {
		types[k] = raw.Lookup(k).Type
	}
	wantTypes := map[string]bson.Type{
		"none": bson.TypeNull, "t": bson.TypeBoolean, "small": bson.TypeInt32, "neg": bson.TypeInt32,
		"big": bson.TypeInt64, "min64": bson.TypeInt64, "float": bson.TypeDouble, "str": bson.TypeString,
		"bytes": bson.TypeBinary, "list": bson.TypeArray, "tuple": bson.TypeArray,
		"nested": bson.TypeEmbeddedDocument, "oid": bson.TypeObjectID,
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("stored BSON types (-want +got):\n%s", diff)
	}
}

func TestDocumentRefused(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	tests := []struct{ doc, want string }{
		{`{1: "a"}`, `dict key 1 is a int: document keys must be str`},
		{`{"a": {"b": {2: 1}}}`, `a.b: dict key 2 is a int`},
		{`{"tags": [1, set([2])]}`, `tags[1]: a set cannot be stored`},
		{`{"f": len}`, `f: a builtin_function_or_method cannot be stored`},
		{`{"f": lambda: 1}`, `f: a function cannot be stored`},
		{`{"d": time.parse_duration("1s")}`, `d: a time.duration cannot be stored`},
		{`{"big": 1 << 64}`, `big: int 18446744073709551616 does not fit in 64 bits`},
		{`{"s": badstr}`, `s: str is not valid UTF-8`},
		{`{"x": cyclic}`, `nested deeper than 100 levels`},
	}
	for _, tt := range tests {
		src := "cyclic = []\ncyclic.append(cyclic)\ndb.c.insert_one(" + tt.doc + ")"
		_, err := run(t, nil, env(h), src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("insert_one(%s): %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
	if n, err := h.Database().Collection("c").CountDocuments(t.Context(), bson.D{}); err != nil || n != 0 {
		t.Errorf("collection has %d documents (%v), want none stored", n, err)
	}
	if _, err := run(t, nil, env(h), `db.c.insert_one([1])`); err == nil || !strings.Contains(err.Error(), "want dict") {
		t.Errorf("insert_one([1]): %v, want an error", err)
	}
}

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	_, err := h.Database().Collection("users").Indexes().CreateOne(t.Context(), mongo.IndexModel{
		Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, env(h), `db.users.insert_one({"username": "ann"})`)
	_, err = run(t, nil, env(h), `db.users.insert_one({"username": "ann"})`)
	if err == nil {
		t.Fatal("second insert of the same username: no error")
	}
	if !database.IsDuplicateKey(err) || !strings.Contains(err.Error(), "users.insert_one: duplicate key") {
		t.Errorf("error %q: IsDuplicateKey=%v, want true and a message naming the operation", err, database.IsDuplicateKey(err))
	}
	if database.IsUnavailable(err) {
		t.Error("duplicate key reported as unavailability")
	}
	mustRun(t, env(h), `db.users.insert_one({"username": "bob"})`)
	// The embedded engine reports this one as an InternalError "UNIQUE
	// constraint failed", which IsDuplicateKey also recognises.
	_, err = run(t, nil, env(h), `db.users.update_one({"username": "bob"}, {"$set": {"username": "ann"}})`)
	if !database.IsDuplicateKey(err) {
		t.Errorf("update to an existing username: %v, want a duplicate key error", err)
	}
	if _, err := run(t, nil, env(h), `db.other.insert_one({"x": 1})`); database.IsDuplicateKey(err) {
		t.Errorf("IsDuplicateKey(%v) = true", err)
	}
}

func TestCollectionNames(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	for _, expr := range []string{`db["system.users"]`, `db["a$b"]`, `db[""]`, `db["a\x00b"]`, `db[1]`, `db["x" * 300]`} {
		if _, err := run(t, nil, env(h), "c = "+expr); err == nil {
			t.Errorf("%s: no error", expr)
		}
	}
	g := mustRun(t, env(h), `
a = db.todos
b = db["todo.archive"]
s = str(db)
names = [a.name, b.name]
t = type(db), type(a)
`)
	got := reprs(g, "s", "names", "t")
	want := map[string]string{
		"s":     `"<database ` + h.Name() + `>"`,
		"names": `["todos", "todo.archive"]`,
		"t":     `("database", "collection")`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestUpdateNeedsOperators(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	mustRun(t, env(h), `db.c.insert_one({"_id": 1, "name": "ann"})`)
	tests := []struct{ call, want string }{
		{`update_one({"_id": 1}, {"name": "x"})`, `update key "name" is not an operator`},
		{`update_one({"_id": 1}, {})`, `empty update`},
		{`update_one({"_id": 1}, {"$set": "x"})`, `$set takes a dict of fields, not str`},
		{`update_one(None, {"$set": {"a": 1}})`, `filter must be a dict, not NoneType`},
		{`delete_one(None)`, `filter must be a dict, not NoneType`},
		{`update_one({"_id": 1}, [{"$set": {"a": 1}}])`, `want dict`},
	}
	for _, tt := range tests {
		_, err := run(t, nil, env(h), "db.c."+tt.call)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.call, err, tt.want)
		}
	}
	g := mustRun(t, env(h), `d = db.c.find_one({"_id": 1})`)
	if got := g["d"].String(); got != `{"_id": 1, "name": "ann"}` {
		t.Errorf("document after refused updates: %s", got)
	}
}

// TestConcurrentUse shares one frozen handle between goroutines, as the
// requests of a website share website.db.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	h.Freeze()
	const workers = 4
	errs := make(chan error, workers)
	for i := range workers {
		go func() {
			pre := env(h)
			pre["i"] = starlark.MakeInt(i)
			_, err := run(t, nil, pre, `
for j in range(5):
    id = db.shared.insert_one({"worker": i, "j": j})
    if db.shared.find_one({"_id": id})["j"] != j:
        fail("read back the wrong document")
`)
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(errorText(err))
		}
	}
	g := mustRun(t, env(h), `n = db.shared.count()`)
	if g["n"] != starlark.MakeInt(workers*5) {
		t.Errorf("count = %v, want %d", g["n"], workers*5)
	}
}
