// Package sessiontest checks implementations of trembling's session
// storage against their contract, in the style of testing/fstest.TestFS:
// [TestStore] for a [session.Store], [TestManager] for a
// [session.Manager] over any store or cookie codec.
//
// Besides round trips, expiry and deletion, the suite checks exactness
// under concurrency: saves of different keys of one session at once all
// arrive, for one key the last save wins, a delete among saves in flight
// is never undone, a save over the size limit writes nothing, and a
// session that expired after it was loaded is not saved.
// [BenchmarkSized] measures reads and saves among 1 k, 100 k and 1 M
// stored sessions.
package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

// TestStore runs the conformance suite against the stores newStore
// returns, one fresh, empty store per subtest. The suite uses the real
// clock: expired records are made with expiries in the past, live ones
// with expiries an hour or more ahead. A store that implements [Counter]
// is also checked to remove expired records in DeleteExpired rather than
// only hide them.
func TestStore(t *testing.T, newStore func(t *testing.T) session.Store, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	for _, tc := range storeTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), o)
		})
	}
	for _, tc := range userIndexTests {
		t.Run("UserIndex/"+tc.name, func(t *testing.T) {
			s := newStore(t)
			if _, ok := s.(session.UserIndex); !ok {
				t.Skipf("%T is not a session.UserIndex", s)
			}
			tc.fn(t, s, o)
		})
	}
}

// An Option tells TestStore of a limit of the store's database that the
// store documents, or of what else it can do.
type Option func(*options)

type options struct {
	noNUL bool
	peer  func(session.Store) session.Store
}

// WithPeer gives TestStore a way to open a second store over the data
// of a store, as a second process would: the concurrency tests of
// [session.UserIndex] then spread their calls over both.
func WithPeer(peer func(s session.Store) session.Store) Option {
	return func(o *options) { o.peer = peer }
}

// WithoutNUL tells TestStore that the store's database cannot keep the
// NUL character in strings, as FerretDB on PostgreSQL cannot (PostgreSQL
// refuses it in text and jsonb): values are tested without it, and ids
// with it must still be refused as malformed without an error.
func WithoutNUL() Option { return func(o *options) { o.noNUL = true } }

// values is Values, less what the store cannot keep.
func (o options) values() map[string]any {
	v := Values()
	if o.noNUL {
		v["control"] = strings.ReplaceAll(v["control"].(string), "\x00", "\x01")
	}
	return v
}

// A Counter is a store that can count its records, expired ones
// included.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

var storeTests = []struct {
	name string
	fn   func(t *testing.T, s session.Store, o options)
}{
	{"RoundTrip", testRoundTrip},
	{"ValueTypes", testValueTypes},
	{"EmptyData", testEmptyData},
	{"Copies", testCopies},
	{"Update", testUpdate},
	{"UpdateUnknown", testUpdateUnknown},
	{"Delete", testDelete},
	{"NoResurrection", testNoResurrection},
	{"CreateExisting", testCreateExisting},
	{"Expiry", testExpiry},
	{"UnknownAndMalformedIDs", testUnknownIDs},
	{"DeleteExpired", testDeleteExpired},
	{"Concurrent", testConcurrent},
	{"CanceledContext", testCanceledContext},
	{"PushPull", testPushPull},
	{"MergeDifferentKeys", testMergeDifferentKeys},
	{"SameKeyLastWriterWins", testSameKeyLastWriterWins},
	{"NoResurrectionUnderLoad", testNoResurrectionUnderLoad},
	{"SizeLimit", testSizeLimit},
	{"ExpiredBetweenLoadAndSave", testExpiredBetweenLoadAndSave},
}

// newID returns the id of a fresh token, as the Manager makes ids.
func newID(t *testing.T) string {
	t.Helper()
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return session.Hash(tok)
}

// now returns the current time in whole milliseconds, as the Manager
// makes record times.
func now() time.Time { return time.Now().Truncate(time.Millisecond) }

// liveRecord returns a record that expires in an hour (idle) and a day
// (absolute).
func liveRecord(data map[string]any) session.Record {
	n := now()
	return session.Record{
		Data:            data,
		Created:         n.Add(-time.Minute),
		IdleExpires:     n.Add(time.Hour),
		AbsoluteExpires: n.Add(24 * time.Hour),
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s session.Store, id string, r session.Record) {
	t.Helper()
	if err := s.Create(ctxT(t), id, r); err != nil {
		t.Fatalf("Create(%s): %v", id, err)
	}
}

// mustFind returns the record stored under id, failing the test when it
// is missing.
func mustFind(t *testing.T, s session.Store, id string) session.Record {
	t.Helper()
	r, ok, err := s.Find(ctxT(t), id)
	if err != nil {
		t.Fatalf("Find(%s): %v", id, err)
	}
	if !ok {
		t.Fatalf("Find(%s): not found, want the record", id)
	}
	if r.Data == nil {
		t.Errorf("Find(%s): Data is nil, want a map", id)
	}
	return r
}

// mustMiss fails the test when a record is found under id.
func mustMiss(t *testing.T, s session.Store, id, why string) {
	t.Helper()
	r, ok, err := s.Find(ctxT(t), id)
	if err != nil {
		t.Fatalf("Find(%q) %s: %v", id, why, err)
	}
	if ok {
		t.Fatalf("Find(%q) %s: found %+v, want not found", id, why, r)
	}
}

func diffRecord(t *testing.T, what string, want, got session.Record) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: record mismatch (-want +got):\n%s", what, d)
	}
}

func testRoundTrip(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	want := liveRecord(map[string]any{"user_id": "u-123", "visits": int64(3)})
	mustCreate(t, s, id, want)
	diffRecord(t, "Find after Create", want, mustFind(t, s, id))
	mustMiss(t, s, newID(t), "of another id")
}

// Values returns session data holding every kind of allowed value, for
// tests of stores and codecs: int64 beyond float64's exact range, whole
// and negative floats, nested lists and maps, empty ones, unicode, the
// empty string, nil, and keys with dots, dollars, percent signs and
// control characters.
func Values() map[string]any {
	return map[string]any{
		"string":       "héllo wörld ✓ 🎉",
		"empty":        "",
		"control":      "a\x00b\tc\n\"\\</script>",
		"int":          int64(42),
		"zero":         int64(0),
		"big":          int64(1<<62 + 1),
		"min":          int64(-1 << 63),
		"float":        3.25,
		"whole float":  float64(2),
		"neg float":    -1e-9,
		"huge float":   1e300,
		"true":         true,
		"false":        false,
		"nil":          nil,
		"list":         []any{int64(1), "two", 3.5, nil, true, []any{}, map[string]any{}},
		"empty list":   []any{},
		"empty map":    map[string]any{},
		"nested":       map[string]any{"cart": []any{map[string]any{"sku": "A1", "qty": int64(2)}}, "deep": map[string]any{"deeper": map[string]any{"deepest": []any{[]any{int64(-7)}}}}},
		"ключ":         "значение",
		"":             "empty key",
		"a.b":          "dotted key",
		"$set":         "dollar key",
		"100%":         "percent key",
		"%2E":          "escape-like key",
		"nested keys":  map[string]any{"x.y": int64(1), "$z": int64(2), "": int64(3), "%": int64(4)},
		"messages":     []any{map[string]any{"text": "Saved.", "level": "success"}},
		"user_id":      "64b7f0c2a1e4d3b2c1a09f8e",
		"pw_finger":    "1f3870be274f6c49b3e31a0c6728957f",
		"unicode list": []any{"日本語", "emoji 😀", "combining é"},
		"%L":           []any{[]any{"a"}, map[string]any{"%L": []any{int64(1)}}},
		"grid":         []any{[]any{int64(1), int64(2)}, []any{[]any{3.5}}, []any{}},
	}
}

func testValueTypes(t *testing.T, s session.Store, o options) {
	id := newID(t)
	want := liveRecord(o.values())
	for k, v := range want.Data {
		if err := session.CheckValue(k, v); err != nil {
			t.Fatalf("the suite's own value is refused: %v", err)
		}
	}
	mustCreate(t, s, id, want)
	got := mustFind(t, s, id)
	diffRecord(t, "Find after Create", want, got)
	// cmp.Diff compares dynamic types too; say which type changed, if any.
	for k, v := range want.Data {
		if g := got.Data[k]; fmt.Sprintf("%T", g) != fmt.Sprintf("%T", v) {
			t.Errorf("key %q: stored %T, found %T", k, v, g)
		}
	}

	// The same values survive an Update of another key.
	want.Data["int"] = int64(43)
	got, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"int": int64(43)}})
	if err != nil || !ok {
		t.Fatalf("Update = %v, %v; want true, nil", ok, err)
	}
	diffRecord(t, "the record Update returned", want, got)
	diffRecord(t, "Find after Update", want, mustFind(t, s, id))
}

func testEmptyData(t *testing.T, s session.Store, _ options) {
	for _, data := range []map[string]any{nil, {}} {
		id := newID(t)
		r := liveRecord(data)
		mustCreate(t, s, id, r)
		got := mustFind(t, s, id)
		r.Data = map[string]any{}
		diffRecord(t, fmt.Sprintf("Find after Create with Data %#v", data), r, got)
	}
}

// testCopies checks that the store keeps its own copy of the data.
func testCopies(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	list := []any{int64(1)}
	inner := map[string]any{"k": "v"}
	r := liveRecord(map[string]any{"list": list, "map": inner})
	mustCreate(t, s, id, r)
	list[0] = int64(99)
	inner["k"] = "changed"
	r.Data["added"] = true

	want := liveRecord(map[string]any{"list": []any{int64(1)}, "map": map[string]any{"k": "v"}})
	want.Created, want.IdleExpires, want.AbsoluteExpires = r.Created, r.IdleExpires, r.AbsoluteExpires
	got := mustFind(t, s, id)
	diffRecord(t, "Find after changing the created record's data", want, got)

	got.Data["list"].([]any)[0] = "mutated"
	got.Data["map"].(map[string]any)["k"] = "mutated"
	delete(got.Data, "list")
	diffRecord(t, "Find after changing a found record's data", want, mustFind(t, s, id))
}

func testUpdate(t *testing.T, s session.Store, _ options) {
	id, other := newID(t), newID(t)
	r := liveRecord(map[string]any{"n": int64(1), "cart": []any{"a"}})
	mustCreate(t, s, id, r)
	mustCreate(t, s, other, liveRecord(map[string]any{"n": int64(100)}))

	r.Data = map[string]any{"n": int64(2), "cart": []any{"a", "b"}}
	r.IdleExpires = r.IdleExpires.Add(30 * time.Minute)
	got, ok, err := s.Update(ctxT(t), id, session.Change{Set: r.Data, IdleExpires: r.IdleExpires})
	if err != nil || !ok {
		t.Fatalf("Update = %v, %v; want true, nil", ok, err)
	}
	diffRecord(t, "the record Update returned", r, got)
	diffRecord(t, "Find after Update", r, mustFind(t, s, id))
	if got := mustFind(t, s, other).Data["n"]; got != int64(100) {
		t.Errorf("the other session's n = %v after updating one, want 100", got)
	}

	// Unset keys are gone; an idle expiry past the absolute one stops
	// at the absolute one.
	r.Data = map[string]any{"only": "this"}
	r.IdleExpires = r.AbsoluteExpires
	c := session.Change{Set: r.Data, Unset: []string{"n", "cart", "never-there"}, IdleExpires: r.AbsoluteExpires.Add(time.Hour)}
	if _, ok, err := s.Update(ctxT(t), id, c); err != nil || !ok {
		t.Fatalf("second Update = %v, %v; want true, nil", ok, err)
	}
	diffRecord(t, "Find after a second Update", r, mustFind(t, s, id))
}

func testUpdateUnknown(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustMiss(t, s, id, "before anything")
	_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"x": int64(1)}})
	if err != nil || ok {
		t.Fatalf("Update of an unknown id = %v, %v; want false, nil", ok, err)
	}
	mustMiss(t, s, id, "after Update of an unknown id")
}

func testDelete(t *testing.T, s session.Store, _ options) {
	id, other := newID(t), newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"x": int64(1)}))
	mustCreate(t, s, other, liveRecord(map[string]any{"y": int64(2)}))
	if err := s.Delete(ctxT(t), id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustMiss(t, s, id, "after Delete")
	mustFind(t, s, other)
	if err := s.Delete(ctxT(t), id); err != nil {
		t.Errorf("Delete of a deleted id: %v, want nil", err)
	}
	if err := s.Delete(ctxT(t), newID(t)); err != nil {
		t.Errorf("Delete of an unknown id: %v, want nil", err)
	}
}

func testNoResurrection(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	r := liveRecord(map[string]any{"user_id": "u1"})
	mustCreate(t, s, id, r)
	// Another request loaded the session before it was deleted ...
	loaded := mustFind(t, s, id)
	if err := s.Delete(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	// ... and saves its change afterwards.
	_ = loaded
	_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"cart": []any{"book"}}})
	if err != nil || ok {
		t.Fatalf("Update after Delete = %v, %v; want false, nil", ok, err)
	}
	mustMiss(t, s, id, "after Update of a deleted session")
}

func testCreateExisting(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	first := liveRecord(map[string]any{"first": true})
	mustCreate(t, s, id, first)
	err := s.Create(ctxT(t), id, liveRecord(map[string]any{"second": true}))
	if !errors.Is(err, session.ErrExists) {
		t.Errorf("Create of an existing id: %v, want an error wrapping session.ErrExists", err)
	}
	diffRecord(t, "Find after a refused Create", first, mustFind(t, s, id))
}

func testExpiry(t *testing.T, s session.Store, _ options) {
	n := now()
	tests := []struct {
		name           string
		idle, absolute time.Duration // from now
		live           bool
	}{
		{"live", time.Hour, 24 * time.Hour, true},
		{"idle expired", -time.Second, 24 * time.Hour, false},
		{"idle expired long ago", -30 * 24 * time.Hour, 24 * time.Hour, false},
		{"absolute expired", time.Hour, -time.Second, false},
		{"both expired", -time.Hour, -time.Minute, false},
		{"idle beyond absolute, absolute ahead", 48 * time.Hour, time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newID(t)
			r := session.Record{
				Data:            map[string]any{"k": tc.name},
				Created:         n.Add(-48 * time.Hour),
				IdleExpires:     n.Add(tc.idle),
				AbsoluteExpires: n.Add(tc.absolute),
			}
			mustCreate(t, s, id, r)
			if !tc.live {
				mustMiss(t, s, id, "of an expired record")
				_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"k": "updated"}, IdleExpires: n.Add(time.Hour)})
				if err != nil || ok {
					t.Fatalf("Update of an expired record = %v, %v; want false, nil", ok, err)
				}
				mustMiss(t, s, id, "after Update of an expired record")
				return
			}
			diffRecord(t, "Find of a live record", r, mustFind(t, s, id))
		})
	}
}

func testUnknownIDs(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"x": int64(1)}))
	for _, bad := range []string{
		"", "x", strings.ToUpper(id), id[:63], id + "0", strings.Repeat("z", 64),
		"../" + id, "$where", `{"$gt": ""}`, "a.b", "\x00", id[:32] + "\x00" + id[33:], "é",
	} {
		mustMiss(t, s, bad, "of a malformed id")
		_, ok, err := s.Update(ctxT(t), bad, session.Change{Set: map[string]any{"y": int64(2)}})
		if err != nil || ok {
			t.Errorf("Update(%q) = %v, %v; want false, nil", bad, ok, err)
		}
		mustMiss(t, s, bad, "after Update of a malformed id")
		if err := s.Delete(ctxT(t), bad); err != nil {
			t.Errorf("Delete(%q): %v, want nil", bad, err)
		}
	}
	// None of that touched the real record.
	if got := mustFind(t, s, id).Data; !cmp.Equal(got, map[string]any{"x": int64(1)}) {
		t.Errorf("record after the malformed ids = %v, want x=1", got)
	}
}

func testDeleteExpired(t *testing.T, s session.Store, _ options) {
	n := now()
	live, liveIdle := newID(t), newID(t)
	idleGone, absGone := newID(t), newID(t)
	mustCreate(t, s, live, liveRecord(map[string]any{"live": true}))
	liveIdleRec := session.Record{Data: map[string]any{"live": "soon idle"}, Created: n.Add(-time.Hour), IdleExpires: n.Add(2 * time.Hour), AbsoluteExpires: n.Add(3 * time.Hour)}
	mustCreate(t, s, liveIdle, liveIdleRec)
	mustCreate(t, s, idleGone, session.Record{Data: map[string]any{"x": int64(1)}, Created: n.Add(-time.Hour), IdleExpires: n.Add(-time.Second), AbsoluteExpires: n.Add(time.Hour)})
	mustCreate(t, s, absGone, session.Record{Data: map[string]any{"x": int64(2)}, Created: n.Add(-time.Hour), IdleExpires: n.Add(time.Hour), AbsoluteExpires: n.Add(-time.Second)})

	count := func() int {
		n, err := s.(Counter).Count(ctxT(t))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		return n
	}
	_, counts := s.(Counter)
	if counts {
		if n := count(); n != 4 {
			t.Fatalf("Count = %d before DeleteExpired, want 4", n)
		}
	}
	if err := s.DeleteExpired(ctxT(t)); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if counts {
		if n := count(); n != 2 {
			t.Errorf("Count = %d after DeleteExpired, want 2", n)
		}
	}
	mustFind(t, s, live)
	diffRecord(t, "Find of a live record after DeleteExpired", liveIdleRec, mustFind(t, s, liveIdle))
	mustMiss(t, s, idleGone, "of an idle-expired record after DeleteExpired")
	mustMiss(t, s, absGone, "of an absolute-expired record after DeleteExpired")

	// Their ids can be created afresh.
	for _, id := range []string{idleGone, absGone} {
		r := liveRecord(map[string]any{"new": true})
		if err := s.Create(ctxT(t), id, r); err != nil {
			t.Fatalf("Create of an id whose record DeleteExpired removed: %v", err)
		}
		diffRecord(t, "Find of a re-created id", r, mustFind(t, s, id))
	}
	if err := s.DeleteExpired(ctxT(t)); err != nil {
		t.Fatalf("DeleteExpired with nothing expired: %v", err)
	}
	mustFind(t, s, live)
}

func testConcurrent(t *testing.T, s session.Store, _ options) {
	const sessions, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for g := range sessions {
		wg.Go(func() {
			ctx := ctxT(t)
			tok, err := session.NewToken()
			if err != nil {
				errs <- err
				return
			}
			id := session.Hash(tok)
			r := liveRecord(map[string]any{"g": int64(g), "n": int64(0)})
			if err := s.Create(ctx, id, r); err != nil {
				errs <- fmt.Errorf("session %d: Create: %w", g, err)
				return
			}
			for i := 1; i <= rounds; i++ {
				got, ok, err := s.Find(ctx, id)
				if err != nil || !ok {
					errs <- fmt.Errorf("session %d round %d: Find = %v, %v", g, i, ok, err)
					return
				}
				if got.Data["g"] != int64(g) || got.Data["n"] != int64(i-1) {
					errs <- fmt.Errorf("session %d round %d: found g=%v n=%v, want g=%d n=%d", g, i, got.Data["g"], got.Data["n"], g, i-1)
					return
				}
				if _, ok, err := s.Update(ctx, id, session.Change{Set: map[string]any{"n": int64(i)}}); err != nil || !ok {
					errs <- fmt.Errorf("session %d round %d: Update = %v, %v", g, i, ok, err)
					return
				}
			}
			if err := s.Delete(ctx, id); err != nil {
				errs <- fmt.Errorf("session %d: Delete: %w", g, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCanceledContext(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"x": int64(1)}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok, err := s.Find(ctx, id); err == nil {
		t.Errorf("Find with a canceled context = %v, nil; want an error", ok)
	}
	if err := s.Create(ctx, newID(t), liveRecord(nil)); err == nil {
		t.Errorf("Create with a canceled context: nil error")
	}
	if _, _, err := s.Update(ctx, id, session.Change{Set: map[string]any{"x": int64(2)}}); err == nil {
		t.Errorf("Update with a canceled context: nil error")
	}
	if err := s.Delete(ctx, id); err == nil {
		t.Errorf("Delete with a canceled context: nil error")
	}
	if err := s.DeleteExpired(ctx); err == nil {
		t.Errorf("DeleteExpired with a canceled context: nil error")
	}
	if got := mustFind(t, s, id).Data["x"]; got != int64(1) {
		t.Errorf("after calls with a canceled context, x = %v, want 1", got)
	}
}
