package mongostore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/mongostore"
)

// commandLog records the filters of the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []string // "find {...}", "delete {...}", ...
}

func (l *commandLog) started(_ context.Context, e *event.CommandStartedEvent) {
	var filters []bson.Raw
	switch e.CommandName {
	case "find", "count", "aggregate", "findAndModify":
		if f, ok := e.Command.Lookup("filter").DocumentOK(); ok {
			filters = append(filters, f)
		} else if q, ok := e.Command.Lookup("query").DocumentOK(); ok {
			filters = append(filters, q)
		} else {
			filters = append(filters, nil)
		}
	case "update", "delete":
		key := map[string]string{"update": "updates", "delete": "deletes"}[e.CommandName]
		vals, _ := e.Command.Lookup(key).Array().Values()
		for _, v := range vals {
			filters = append(filters, v.Document().Lookup("q").Document())
		}
	case "insert":
		filters = append(filters, bson.Raw(nil))
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range filters {
		l.cmds = append(l.cmds, e.CommandName+" "+f.String())
	}
}

func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cmds
	l.cmds = nil
	return c
}

// monitoredDB returns a database on its own embedded engine, through a
// client whose commands l records.
func monitoredDB(t *testing.T, l *commandLog) *mongo.Database {
	e := enginetest.Engine(t, t.TempDir())
	opts := enginetest.ClientOptions(e.URI()).SetMonitor(&event.CommandMonitor{Started: l.started})
	c, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c.Database("sessions_exact")
}

// monitoredSession creates a live session holding data in a store whose
// commands l records, and returns the store and the session's id.
func monitoredSession(t *testing.T, l *commandLog, data map[string]any) (*mongostore.Store, string) {
	t.Helper()
	s := mongostore.New(monitoredDB(t, l))
	s.Logger = quiet
	id := strings.Repeat("ab", 32)
	now := time.Now().Truncate(time.Millisecond)
	rec := session.Record{Data: data, Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(2 * time.Hour)}
	if err := s.Create(t.Context(), id, rec); err != nil {
		t.Fatal(err)
	}
	return s, id
}

// TestExactIDQueries checks that every query the store makes while
// serving a request (Find, Create, Update, also after losing a race,
// Delete) is an exact {_id: <string>} lookup or an insert: the only kind
// the embedded engine answers without reading the whole collection.
func TestExactIDQueries(t *testing.T) {
	var l commandLog
	s, id := monitoredSession(t, &l, map[string]any{"n": int64(0)})
	ctx := t.Context()
	if _, ok, err := s.Find(ctx, id); err != nil || !ok {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	// Concurrent saves lose insert races and retry.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, ok, err := s.Update(ctx, id, session.Change{Set: map[string]any{fmt.Sprint(i): int64(i)}}); err != nil || !ok {
				t.Errorf("Update %d = %v, %v", i, ok, err)
			}
		})
	}
	wg.Wait()
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Find(ctx, id); err != nil || ok {
		t.Fatalf("Find after Delete = %v, %v", ok, err)
	}
	cmds := l.take()
	if len(cmds) == 0 {
		t.Fatal("no command recorded")
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "insert") {
			continue
		}
		_, filter, _ := strings.Cut(c, " ")
		if !strings.HasPrefix(filter, `{"_id": "`+id) || strings.Count(filter, ":") != 1 {
			t.Errorf("%s: not an exact _id lookup", c)
		}
	}
	t.Logf("%d commands, e.g. %q", len(cmds), cmds[:min(4, len(cmds))])
}

// fakeVersioner stands for the embedded engine's version tracker: the
// test bumps the version of each _id it changes behind the store's back.
type fakeVersioner struct {
	mu sync.Mutex
	v  map[string]uint64
}

func (f *fakeVersioner) Version(db, coll, id string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v[db+"."+coll+"."+id]
}

func (f *fakeVersioner) bump(db, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v[db+"."+mongostore.Collection+"."+id]++
}

// TestCache checks WithCache: reads of an unchanged session make no
// database call; a save or a logout made through another store (another
// process) is seen at the next read once the Versioner reports it, and
// until then the cached copy is what is read.
func TestCache(t *testing.T) {
	var l commandLog
	db := monitoredDB(t, &l)
	fv := &fakeVersioner{v: map[string]uint64{}}
	cached := mongostore.New(db, mongostore.WithCache(fv, 4))
	other := mongostore.New(db) // another process, without the cache
	ctx := t.Context()
	id := strings.Repeat("cd", 32)
	now := time.Now().Truncate(time.Millisecond)
	rec := session.Record{Data: map[string]any{"n": int64(1)}, Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(2 * time.Hour)}
	if err := cached.Create(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	l.take()
	find := func(want any) {
		t.Helper()
		r, ok, err := cached.Find(ctx, id)
		switch {
		case err != nil:
			t.Fatal(err)
		case want == nil && ok:
			t.Fatalf("Find = %v, want not found", r.Data)
		case want != nil && (!ok || r.Data["n"] != want):
			t.Fatalf("Find = %v, %v; want n=%v", r.Data, ok, want)
		}
	}
	for range 3 {
		find(int64(1))
	}
	if cmds := l.take(); len(cmds) != 0 {
		t.Errorf("cached reads of an unchanged session sent %q, want nothing", cmds)
	}

	// Another process saves (version 1): until the Versioner says so,
	// the cache is trusted; then the next read sees the save.
	if _, ok, err := other.Update(ctx, id, session.Change{Set: map[string]any{"n": int64(2)}}); err != nil || !ok {
		t.Fatalf("Update = %v, %v", ok, err)
	}
	find(int64(1))
	fv.bump(db.Name(), id+"#1")
	l.take()
	find(int64(2))
	if cmds := l.take(); len(cmds) == 0 {
		t.Error("a read after the Versioner reported a change sent no command")
	}
	find(int64(2))
	if cmds := l.take(); len(cmds) != 0 {
		t.Errorf("a second read sent %q, want nothing", cmds)
	}

	// This store's own save is cached without a read.
	if _, ok, err := cached.Update(ctx, id, session.Change{Set: map[string]any{"n": int64(3)}}); err != nil || !ok {
		t.Fatalf("Update = %v, %v", ok, err)
	}
	l.take()
	find(int64(3))
	if cmds := l.take(); len(cmds) != 0 {
		t.Errorf("a read after this store's own save sent %q, want nothing", cmds)
	}

	// A logout in another process: the next read misses.
	if err := other.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	fv.bump(db.Name(), id+"#3")
	find(nil)
	if _, ok, err := cached.Update(ctx, id, session.Change{Set: map[string]any{"n": int64(4)}}); err != nil || ok {
		t.Fatalf("Update after another process's Delete = %v, %v; want false, nil", ok, err)
	}

	// The cache holds at most its size.
	for i := range 10 {
		sid := fmt.Sprintf("%064x", i)
		if err := cached.Create(ctx, sid, rec); err != nil {
			t.Fatal(err)
		}
	}
	l.take()
	misses := 0
	for i := range 10 {
		if _, ok, err := cached.Find(ctx, fmt.Sprintf("%064x", i)); err != nil || !ok {
			t.Fatalf("Find %d = %v, %v", i, ok, err)
		}
		if len(l.take()) > 0 {
			misses++
		}
	}
	if misses < 6 {
		t.Errorf("%d of 10 sessions read from the database with a cache of 4, want at least 6", misses)
	}
}

// TestSweepOldVersions checks that the sweep removes the versions that no
// reader can need any more, keeps the latest, and that the session still
// reads the same.
func TestSweepOldVersions(t *testing.T) {
	db := enginetest.DB(t)
	s := mongostore.New(db)
	s.Logger = quiet
	clock := time.Now().Truncate(time.Millisecond)
	s.Now = func() time.Time { return clock }
	ctx := t.Context()
	id := strings.Repeat("ef", 32)
	rec := session.Record{Data: map[string]any{}, Created: clock, IdleExpires: clock.Add(time.Hour), AbsoluteExpires: clock.Add(2 * time.Hour)}
	if err := s.Create(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, ok, err := s.Update(ctx, id, session.Change{Set: map[string]any{fmt.Sprint(i): int64(i)}}); err != nil || !ok {
			t.Fatalf("Update %d = %v, %v", i, ok, err)
		}
	}
	docs := func() int {
		n, err := db.Collection(mongostore.Collection).CountDocuments(ctx, bson.D{{Key: "sid", Value: id}})
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	if n := docs(); n != 6 {
		t.Fatalf("%d documents after 5 saves, want a head and 5 versions", n)
	}
	want, _, _ := s.Find(ctx, id)
	// Too recent: kept.
	if err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := docs(); n != 6 {
		t.Errorf("the sweep removed versions younger than Grace: %d documents left", n)
	}
	clock = clock.Add(mongostore.Grace + time.Minute)
	if err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := docs(); n != 2 {
		t.Errorf("%d documents after the sweep, want the head and the latest version", n)
	}
	got, ok, err := s.Find(ctx, id)
	if err != nil || !ok || fmt.Sprint(got.Data) != fmt.Sprint(want.Data) {
		t.Errorf("Find after the sweep = %v, %v, %v; want %v", got.Data, ok, err, want.Data)
	}
	// Saving still works, from the remaining versions.
	if _, ok, err := s.Update(ctx, id, session.Change{Set: map[string]any{"after": true}}); err != nil || !ok {
		t.Fatalf("Update after the sweep = %v, %v", ok, err)
	}
	if got, _, _ := s.Find(ctx, id); got.Data["after"] != true || got.Data["4"] != int64(4) {
		t.Errorf("after the sweep and a save: %v", got.Data)
	}
}

// TestParallelSavesTakeTurns checks that one process's parallel saves of
// one session take turns, several written together when they wait:
// no insert race is lost (so at most one insert a save, never a retry),
// and all their keys are kept.
func TestParallelSavesTakeTurns(t *testing.T) {
	var l commandLog
	s, id := monitoredSession(t, &l, map[string]any{})
	ctx := t.Context()
	l.take()
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, ok, err := s.Update(ctx, id, session.Change{Set: map[string]any{fmt.Sprint(i): int64(i)}}); err != nil || !ok {
				t.Errorf("Update %d = %v, %v", i, ok, err)
			}
		})
	}
	wg.Wait()
	inserts := 0
	for _, c := range l.take() {
		if strings.HasPrefix(c, "insert") {
			inserts++
		}
	}
	if inserts < 1 || inserts > n {
		t.Errorf("%d saves made %d inserts; want 1 to %d (more means insert races lost and retried)", n, inserts, n)
	}
	t.Logf("%d saves, %d inserts", n, inserts)
	r, ok, err := s.Find(ctx, id)
	if err != nil || !ok || len(r.Data) != n {
		t.Errorf("Find = %d keys, %v, %v; want %d keys", len(r.Data), ok, err, n)
	}
}
