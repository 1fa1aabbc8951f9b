package embedded

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// sqlCapture is a slog.Handler that keeps the SQL statements FerretDB logs
// (at debug level, as ">>> statement") before it runs them.
type sqlCapture struct {
	mu    sync.Mutex
	stmts []string
}

func (h *sqlCapture) Enabled(context.Context, slog.Level) bool { return true }
func (h *sqlCapture) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *sqlCapture) WithGroup(string) slog.Handler            { return h }
func (h *sqlCapture) Handle(_ context.Context, r slog.Record) error {
	if q, ok := strings.CutPrefix(r.Message, ">>> "); ok {
		h.mu.Lock()
		h.stmts = append(h.stmts, q)
		h.mu.Unlock()
	}
	return nil
}

// take returns the statements captured since the last take.
func (h *sqlCapture) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stmts
	h.stmts = nil
	return s
}

// TestIDStatementsUseIndex runs, on collections named as aspengo's, the
// lookups by _id a session store and an account store make (find, count,
// update, delete, findAndModify), captures every SQL statement FerretDB
// runs for them, and asks SQLite, on the real data file, for the query
// plan of each statement that reads, changes or deletes rows of the
// collection: every one must search the engine's _id index, none scan.
func TestIDStatementsUseIndex(t *testing.T) {
	dir := t.TempDir()
	capture := &sqlCapture{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, err := Open(ctx, Config{Dir: dir, Logger: slog.New(capture), LogLevel: slog.LevelDebug})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(e.URI()).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(context.Background())
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	db := c.Database("app")

	for _, name := range []string{"sessions", "users", "login_failures"} {
		t.Run(name, func(t *testing.T) {
			coll := db.Collection(name)
			var docs []any
			for _, id := range []string{"a", "b", "c", "d"} {
				docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "expiresAt", Value: time.Now()}, {Key: "n", Value: 1}})
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Fatal(err)
			}
			capture.take()

			id := func(s string) bson.D { return bson.D{{Key: "_id", Value: s}} }
			set := bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 2}}}}
			if err := coll.FindOne(ctx, id("a")).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.CountDocuments(ctx, id("a")); err != nil {
				t.Fatal(err)
			}
			if err := db.RunCommand(ctx, bson.D{{Key: "count", Value: name}, {Key: "query", Value: id("a")}}).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.UpdateOne(ctx, id("a"), set); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.ReplaceOne(ctx, id("b"), bson.D{{Key: "n", Value: 3}}); err != nil {
				t.Fatal(err)
			}
			if err := coll.FindOneAndUpdate(ctx, id("c"), set).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.DeleteOne(ctx, id("a")); err != nil {
				t.Fatal(err)
			}
			if err := coll.FindOneAndDelete(ctx, id("d")).Err(); err != nil {
				t.Fatal(err)
			}

			table := tableOf(t, dir, "app", name)
			qt := quoteIdent(table)
			kinds := map[string]int{}
			for _, stmt := range capture.take() {
				var kind string
				switch {
				case strings.HasPrefix(stmt, "DELETE FROM "+qt):
					kind = "DELETE"
				case strings.HasPrefix(stmt, "UPDATE "+qt):
					kind = "UPDATE"
				case strings.HasPrefix(stmt, "SELECT") && strings.Contains(stmt, "FROM "+qt):
					kind = "SELECT"
				default:
					continue
				}
				kinds[kind]++
				plan := queryPlan(t, dir, "app", stmt)
				var indexed bool
				for _, step := range plan {
					if strings.HasPrefix(step, "SCAN ") {
						t.Errorf("%s\nscans: %q", stmt, plan)
					}
					if strings.HasPrefix(step, "SEARCH "+table+" USING INDEX "+idIndexName(table)+" ") {
						indexed = true
					}
				}
				if !indexed {
					t.Errorf("%s\ndoes not use the _id index: %q", stmt, plan)
				}
			}
			for _, k := range []string{"SELECT", "UPDATE", "DELETE"} {
				if kinds[k] == 0 {
					t.Errorf("no %s statement on %s captured; got %v", k, table, kinds)
				}
			}
		})
	}
}

// queryPlan returns the details of SQLite's query plan for stmt, asked on
// a connection of its own to db's file, with every parameter a string.
func queryPlan(t *testing.T, dir, db, stmt string) []string {
	t.Helper()
	conn := openFile(t, dir, db)
	defer conn.Close()
	args := make([]any, strings.Count(stmt, "?"))
	for i := range args {
		args[i] = `"x"`
	}
	rows, err := conn.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+stmt, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", stmt, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
