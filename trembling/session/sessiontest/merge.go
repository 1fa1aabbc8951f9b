package sessiontest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

// parallel runs fn(0) ... fn(n-1) at once and reports their errors.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func testPushPull(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"q": []any{"a"}, "x": int64(1)}))
	update := func(c session.Change) {
		t.Helper()
		if _, ok, err := s.Update(ctxT(t), id, c); err != nil || !ok {
			t.Fatalf("Update(%+v) = %v, %v; want true, nil", c, ok, err)
		}
	}
	msg := map[string]any{"id": "m1", "text": "hi"}
	update(session.Change{Push: map[string][]any{"q": {"b", msg}, "new": {int64(7)}}})
	if got, want := mustFind(t, s, id).Data, map[string]any{"q": []any{"a", "b", msg}, "new": []any{int64(7)}, "x": int64(1)}; !cmp.Equal(got, want) {
		t.Errorf("after Push: %v, want %v", got, want)
	}
	// Pull compares whole values; an item that is not there is no error.
	update(session.Change{Pull: map[string][]any{"q": {"a", map[string]any{"text": "hi", "id": "m1"}, "zzz"}}})
	if got, want := mustFind(t, s, id).Data, map[string]any{"q": []any{"b"}, "new": []any{int64(7)}, "x": int64(1)}; !cmp.Equal(got, want) {
		t.Errorf("after Pull: %v, want %v", got, want)
	}
	update(session.Change{Pull: map[string][]any{"q": {"b"}, "x": {int64(1)}}})
	if got, want := mustFind(t, s, id).Data, map[string]any{"new": []any{int64(7)}, "x": int64(1)}; !cmp.Equal(got, want) {
		t.Errorf("after pulling the last item (and from a non-list): %v, want %v", got, want)
	}
}

// testMergeDifferentKeys saves many changes of one session at once, as
// parallel requests do: each sets its own key and pushes its own item,
// and every one of them must arrive.
func testMergeDifferentKeys(t *testing.T, s session.Store, _ options) {
	const n = 16
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"kept": "yes", "gone": "soon"}))
	parallel(t, n, func(i int) error {
		c := session.Change{
			Set:  map[string]any{fmt.Sprintf("k%02d", i): int64(i)},
			Push: map[string][]any{"_messages": {map[string]any{"id": fmt.Sprint(i), "text": fmt.Sprintf("message %d", i)}}},
		}
		if i == 0 {
			c.Unset = []string{"gone"}
		}
		if _, ok, err := s.Update(ctxT(t), id, c); err != nil || !ok {
			return fmt.Errorf("request %d: Update = %v, %v", i, ok, err)
		}
		return nil
	})
	got := mustFind(t, s, id).Data
	if got["kept"] != "yes" {
		t.Errorf("kept = %v, want yes", got["kept"])
	}
	if _, ok := got["gone"]; ok {
		t.Errorf("a key one request removed is back")
	}
	var texts []string
	for _, m := range got["_messages"].([]any) {
		texts = append(texts, m.(map[string]any)["text"].(string))
	}
	slices.Sort(texts)
	for i := range n {
		if got[fmt.Sprintf("k%02d", i)] != int64(i) {
			t.Errorf("key k%02d = %v, want %d: a concurrent save lost it", i, got[fmt.Sprintf("k%02d", i)], i)
		}
	}
	if len(texts) != n || len(slices.Compact(slices.Clone(texts))) != n {
		t.Errorf("messages = %q, want %d distinct ones", texts, n)
	}
}

func testSameKeyLastWriterWins(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"cart": []any{"a"}}))
	for _, v := range []any{[]any{"b"}, "c", int64(4)} {
		if _, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"cart": v}}); err != nil || !ok {
			t.Fatalf("Update = %v, %v", ok, err)
		}
	}
	if got := mustFind(t, s, id).Data["cart"]; got != int64(4) {
		t.Errorf("cart = %v after three saves, want the last one's 4", got)
	}
	// At once: one of them wins whole, no mixture.
	const n = 8
	parallel(t, n, func(i int) error {
		_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"cart": []any{int64(i), int64(i)}}})
		if err != nil || !ok {
			return fmt.Errorf("Update %d = %v, %v", i, ok, err)
		}
		return nil
	})
	l, _ := mustFind(t, s, id).Data["cart"].([]any)
	if len(l) != 2 || l[0] != l[1] {
		t.Errorf("cart = %v after concurrent saves, want one writer's [i i]", l)
	}
}

// testNoResurrectionUnderLoad deletes a session while saves are in
// flight: none may bring it back, before or after.
func testNoResurrectionUnderLoad(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	mustCreate(t, s, id, liveRecord(map[string]any{"user_id": "u1"}))
	const n = 12
	parallel(t, n, func(i int) error {
		if i == n/2 {
			return s.Delete(ctxT(t), id)
		}
		_, _, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{fmt.Sprint(i): true}})
		return err
	})
	mustMiss(t, s, id, "after a Delete among concurrent Updates")
	if _, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"late": true}}); err != nil || ok {
		t.Fatalf("Update after Delete = %v, %v; want false, nil", ok, err)
	}
	mustMiss(t, s, id, "after a late Update")
}

func testSizeLimit(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	r := liveRecord(map[string]any{"a": strings.Repeat("x", 500)})
	mustCreate(t, s, id, r)
	_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"b": strings.Repeat("y", 600)}, MaxSize: 1024})
	if !errors.Is(err, session.ErrTooLarge) || ok {
		t.Fatalf("Update over MaxSize = %v, %v; want an error wrapping ErrTooLarge", ok, err)
	}
	if !strings.Contains(err.Error(), "1024") {
		t.Errorf("error %q does not name the limit", err)
	}
	diffRecord(t, "Find after a refused Update", r, mustFind(t, s, id))
	// Under the limit, it is saved.
	if _, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"b": "small"}, MaxSize: 1024}); err != nil || !ok {
		t.Fatalf("Update under MaxSize = %v, %v", ok, err)
	}
}

// testExpiredBetweenLoadAndSave: a session that expires after a request
// loaded it is not saved by that request, and stays gone.
func testExpiredBetweenLoadAndSave(t *testing.T, s session.Store, _ options) {
	id := newID(t)
	n := now()
	r := session.Record{Data: map[string]any{"x": int64(1)}, Created: n, IdleExpires: n.Add(2 * time.Second), AbsoluteExpires: n.Add(time.Hour)}
	mustCreate(t, s, id, r)
	if _, ok, err := s.Find(ctxT(t), id); err != nil || !ok {
		t.Skipf("the record expired before it could be loaded (Find = %v, %v): machine too slow", ok, err)
	}
	time.Sleep(time.Until(r.IdleExpires) + 10*time.Millisecond)
	_, ok, err := s.Update(ctxT(t), id, session.Change{Set: map[string]any{"x": int64(2)}, IdleExpires: now().Add(time.Hour)})
	if err != nil || ok {
		t.Fatalf("Update of a session that expired since it was loaded = %v, %v; want false, nil", ok, err)
	}
	mustMiss(t, s, id, "after the refused Update")
}
