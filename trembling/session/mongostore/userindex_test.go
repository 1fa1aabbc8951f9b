package mongostore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/mongostore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

// TestUserIndexExactIDQueries checks that a user's index, like a
// session, is read and written by exact {_id: <string>} lookups and
// inserts only, also when concurrent logins race to make it and to add
// to it: listing a user's sessions never reads the whole collection.
func TestUserIndexExactIDQueries(t *testing.T) {
	var l commandLog
	s := mongostore.New(monitoredDB(t, &l))
	s.Logger = quiet
	ctx := t.Context()
	later := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := s.AddUserSession(ctx, "alice", sessiontest.SizedID(i), later); err != nil {
				t.Errorf("AddUserSession %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if err := s.RemoveUserSession(ctx, "alice", sessiontest.SizedID(0)); err != nil {
		t.Fatal(err)
	}
	ids, err := s.UserSessions(ctx, "alice")
	if err != nil || len(ids) != 7 {
		t.Fatalf("UserSessions = %d ids, %v; want 7", len(ids), err)
	}
	m := &session.Manager{Store: s, Owner: func(map[string]any) string { return "alice" }}
	if _, err := m.UserSessions(ctx, "alice"); err != nil {
		t.Fatal(err)
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
		if !strings.HasPrefix(filter, `{"_id": "`) || strings.Count(filter, ":") != 1 {
			t.Errorf("%s: not an exact _id lookup", c)
		}
	}
	t.Logf("%d commands, e.g. %q", len(cmds), cmds[:min(4, len(cmds))])
}

// TestUserIndexNotCounted: users' indexes are not sessions: Count leaves
// them out, and the sweep keeps them.
func TestUserIndexNotCounted(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for i := range 3 {
		if err := s.AddUserSession(ctx, fmt.Sprint("user", i), sessiontest.SizedID(i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0 sessions", n, err)
	}
	for i := range 3 {
		if ids, err := s.UserSessions(ctx, fmt.Sprint("user", i)); err != nil || len(ids) != 1 {
			t.Errorf("user%d after the sweep: %v, %v", i, ids, err)
		}
	}
}
