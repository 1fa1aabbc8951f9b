package embedded

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// testEngine opens an engine on dir for the test and a client of it, both
// closed when the test ends or, earlier, by the returned stop.
func testEngine(t *testing.T, dir string) (*Engine, *mongo.Client, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(e.URI()).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Disconnect(ctx)
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(stop)
	return e, c, stop
}

// openFile opens a database file of the engine read-only, for a look at
// its schema; the caller closes it at once (an open connection would keep
// the WAL of a dropped database alive).
func openFile(t *testing.T, dir, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dir, db+dbFileExt), "ro"))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// tableOf returns the table of collection coll of db ("" if none).
func tableOf(t *testing.T, dir, db, coll string) string {
	t.Helper()
	conn := openFile(t, dir, db)
	defer conn.Close()
	tables, err := collectionTables(t.Context(), conn)
	if err != nil {
		t.Fatalf("tables of %s: %v", db, err)
	}
	return tables[coll]
}

// sqliteIndexes returns the names of the SQLite indexes of the table of
// db.coll, sorted, and the table.
func sqliteIndexes(t *testing.T, dir, db, coll string) (string, []string) {
	t.Helper()
	table := tableOf(t, dir, db, coll)
	if table == "" {
		t.Fatalf("no table for %s.%s", db, coll)
	}
	conn := openFile(t, dir, db)
	defer conn.Close()
	rows, err := conn.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return table, names
}

// hasIDIndex reports whether the table of db.coll has the engine's index.
func hasIDIndex(t *testing.T, dir, db, coll string) bool {
	t.Helper()
	table, names := sqliteIndexes(t, dir, db, coll)
	return slices.Contains(names, idIndexName(table))
}

// listIndexes returns the index names the engine reports for coll.
func listIndexes(t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatalf("listIndexes %s: %v", coll.Name(), err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func TestIDIndexOnEveryNewCollection(t *testing.T) {
	dir := t.TempDir()
	_, c, _ := testEngine(t, dir)
	db := c.Database("app")
	ctx := t.Context()
	upsert := options.UpdateOne().SetUpsert(true)
	tests := []struct {
		name   string
		create func(*mongo.Collection) error
	}{
		{"create", func(coll *mongo.Collection) error {
			return db.CreateCollection(ctx, coll.Name())
		}},
		{"insert", func(coll *mongo.Collection) error {
			_, err := coll.InsertOne(ctx, bson.M{"_id": "a"})
			return err
		}},
		{"insertMany", func(coll *mongo.Collection) error {
			_, err := coll.InsertMany(ctx, []any{bson.M{"_id": "a"}, bson.M{"_id": "b"}})
			return err
		}},
		{"update upsert", func(coll *mongo.Collection) error {
			_, err := coll.UpdateOne(ctx, bson.M{"_id": "a"}, bson.M{"$set": bson.M{"n": 1}}, upsert)
			return err
		}},
		{"update without match", func(coll *mongo.Collection) error {
			_, err := coll.UpdateOne(ctx, bson.M{"_id": "a"}, bson.M{"$set": bson.M{"n": 1}})
			return err
		}},
		{"findAndModify upsert", func(coll *mongo.Collection) error {
			return coll.FindOneAndUpdate(ctx, bson.M{"_id": "a"}, bson.M{"$set": bson.M{"n": 1}},
				options.FindOneAndUpdate().SetUpsert(true)).Err()
		}},
		{"createIndexes", func(coll *mongo.Collection) error {
			_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}})
			return err
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := db.Collection("c" + string(rune('a'+i)))
			if err := tt.create(coll); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				t.Fatal(err)
			}
			if !hasIDIndex(t, dir, "app", coll.Name()) {
				_, names := sqliteIndexes(t, dir, "app", coll.Name())
				t.Errorf("indexes of %s: %v; want the _id index", coll.Name(), names)
			}
		})
	}
}

func TestIDIndexAddedAtStartup(t *testing.T) {
	dir := t.TempDir()
	_, c, stop := testEngine(t, dir)
	coll := c.Database("app").Collection("sessions")
	if _, err := coll.InsertOne(t.Context(), bson.M{"_id": "a"}); err != nil {
		t.Fatal(err)
	}
	table := tableOf(t, dir, "app", "sessions")
	// Close, and remove the index as if the database came from an engine
	// that did not make it.
	stop()
	conn, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dir, "app"+dbFileExt), "rw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), `DROP INDEX `+quoteIdent(idIndexName(table))); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if hasIDIndex(t, dir, "app", "sessions") {
		t.Fatal("index still there")
	}

	_, c, _ = testEngine(t, dir)
	if !hasIDIndex(t, dir, "app", "sessions") {
		t.Error("the _id index of a collection that existed before Open was not made")
	}
	var doc bson.M
	if err := c.Database("app").Collection("sessions").FindOne(t.Context(), bson.M{"_id": "a"}).Decode(&doc); err != nil {
		t.Errorf("find after restart: %v", err)
	}
}

// TestIDIndexUnknownToFerretDB checks that the index FerretDB does not
// know of changes nothing it reports or does: listIndexes, dropIndexes,
// drop, renameCollection, dropDatabase and re-creating what was dropped.
func TestIDIndexUnknownToFerretDB(t *testing.T) {
	dir := t.TempDir()
	_, c, _ := testEngine(t, dir)
	ctx := t.Context()
	db := c.Database("app")
	coll := db.Collection("sessions")
	insert := func(coll *mongo.Collection, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if _, err := coll.InsertOne(ctx, bson.M{"_id": id, "n": 1}); err != nil {
				t.Fatalf("insert %s into %s: %v", id, coll.Name(), err)
			}
		}
	}
	findIDs := func(coll *mongo.Collection) []string {
		t.Helper()
		cur, err := coll.Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		slices.Sort(ids)
		return ids
	}
	wantIndexes := func(coll *mongo.Collection, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, listIndexes(t, coll)); diff != "" {
			t.Errorf("listIndexes %s (-want +got):\n%s", coll.Name(), diff)
		}
		if !hasIDIndex(t, dir, "app", coll.Name()) {
			t.Errorf("%s: the _id index is missing", coll.Name())
		}
	}

	insert(coll, "a", "b")
	wantIndexes(coll, "_id_")

	// createIndexes, then dropIndexes by name and with "*".
	for _, k := range []string{"expiresAt", "user"} {
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: k, Value: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	wantIndexes(coll, "_id_", "expiresAt_1", "user_1")
	if err := coll.Indexes().DropOne(ctx, "user_1"); err != nil {
		t.Fatalf("dropIndexes user_1: %v", err)
	}
	wantIndexes(coll, "_id_", "expiresAt_1")
	if err := coll.Indexes().DropOne(ctx, idIndexName(tableOf(t, dir, "app", "sessions"))); err == nil {
		t.Error("dropIndexes accepted the name of the engine's index")
	}
	if err := coll.Indexes().DropAll(ctx); err != nil {
		t.Fatalf(`dropIndexes "*": %v`, err)
	}
	wantIndexes(coll, "_id_")
	if diff := cmp.Diff([]string{"a", "b"}, findIDs(coll)); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
	// The unique _id index is still FerretDB's.
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "a"}); !mongo.IsDuplicateKeyError(err) {
		t.Errorf("duplicate _id: %v; want a duplicate key error", err)
	}

	// collStats and dbStats, which read index sizes, still work.
	for _, cmd := range []bson.D{{{Key: "collStats", Value: "sessions"}}, {{Key: "dbStats", Value: 1}}} {
		if err := db.RunCommand(ctx, cmd).Err(); err != nil {
			t.Errorf("%s: %v", cmd[0].Key, err)
		}
	}

	// renameCollection keeps the table, and so the index; the old name,
	// re-created, gets a table and index of its own.
	if err := c.Database("admin").RunCommand(ctx, bson.D{
		{Key: "renameCollection", Value: "app.sessions"}, {Key: "to", Value: "app.renamed"},
	}).Err(); err != nil {
		t.Fatalf("renameCollection: %v", err)
	}
	renamed := db.Collection("renamed")
	wantIndexes(renamed, "_id_")
	if diff := cmp.Diff([]string{"a", "b"}, findIDs(renamed)); diff != "" {
		t.Errorf("renamed documents (-want +got):\n%s", diff)
	}
	insert(coll, "c")
	wantIndexes(coll, "_id_")
	if diff := cmp.Diff([]string{"c"}, findIDs(coll)); diff != "" {
		t.Errorf("re-created documents (-want +got):\n%s", diff)
	}

	// drop, then re-create: FerretDB reuses the table name; the new table
	// gets the index again.
	table := tableOf(t, dir, "app", "sessions")
	if err := coll.Drop(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if got := tableOf(t, dir, "app", "sessions"); got != "" {
		t.Fatalf("table %s still listed after drop", got)
	}
	insert(coll, "d")
	if got := tableOf(t, dir, "app", "sessions"); got != table {
		t.Logf("re-created with table %s (was %s)", got, table)
	}
	wantIndexes(coll, "_id_")
	if diff := cmp.Diff([]string{"d"}, findIDs(coll)); diff != "" {
		t.Errorf("documents after drop and insert (-want +got):\n%s", diff)
	}

	// dropDatabase removes the file, leaving nothing behind, and the
	// database comes back indexed.
	if err := db.Drop(ctx); err != nil {
		t.Fatalf("dropDatabase: %v", err)
	}
	left, err := filepath.Glob(filepath.Join(dir, "app"+dbFileExt+"*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("files left by dropDatabase: %v", left)
	}
	insert(coll, "e")
	wantIndexes(coll, "_id_")
	if diff := cmp.Diff([]string{"e"}, findIDs(coll)); diff != "" {
		t.Errorf("documents after dropDatabase and insert (-want +got):\n%s", diff)
	}
}

// TestIndexerNeverCreatesADatabase: indexing a database whose file is
// gone (dropped meanwhile) must not create an empty file, which FerretDB
// would take for a database.
func TestIndexerNeverCreatesADatabase(t *testing.T) {
	dir := t.TempDir()
	x := newIndexer(dir, slog.New(slog.DiscardHandler))
	x.ensure(t.Context(), "gone", "sessions")
	if err := x.ensureAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("file %s created", e.Name())
	}
	if x.indexed("gone", "sessions") {
		t.Error("a collection of a missing database marked as indexed")
	}
}
