package sessiontest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
)

// The tests of a session.UserIndex, run by TestStore for a store that is
// one.

var userIndexTests = []struct {
	name string
	fn   func(t *testing.T, s session.Store, o options)
}{
	{"RoundTrip", testUserIndexRoundTrip},
	{"Expiry", testUserIndexExpiry},
	{"Names", testUserIndexNames},
	{"ConcurrentAdds", testUserIndexConcurrentAdds},
	{"ConcurrentAddsAndRemoves", testUserIndexConcurrentAddsAndRemoves},
}

// listed returns the ids in user's index, sorted.
func listed(t *testing.T, ix session.UserIndex, user string) []string {
	t.Helper()
	ids, err := ix.UserSessions(ctxT(t), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func mustAdd(t *testing.T, ix session.UserIndex, user, id string, expires time.Time) {
	t.Helper()
	if err := ix.AddUserSession(ctxT(t), user, id, expires); err != nil {
		t.Fatalf("AddUserSession(%q, %s): %v", user, id, err)
	}
}

func expectListed(t *testing.T, ix session.UserIndex, user string, want []string) {
	t.Helper()
	if d := cmp.Diff(want, listed(t, ix, user), cmpEmpty); d != "" {
		t.Errorf("UserSessions(%q) (-want +got):\n%s", user, d)
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func testUserIndexRoundTrip(t *testing.T, s session.Store, _ options) {
	ix := s.(session.UserIndex)
	later := now().Add(time.Hour)
	a1, a2, b1 := newID(t), newID(t), newID(t)
	expectListed(t, ix, "alice", nil)
	mustAdd(t, ix, "alice", a1, later)
	mustAdd(t, ix, "alice", a2, later)
	mustAdd(t, ix, "bob", b1, later)
	mustAdd(t, ix, "alice", a1, later) // again: still once
	expectListed(t, ix, "alice", sorted(a1, a2))
	expectListed(t, ix, "bob", []string{b1})
	expectListed(t, ix, "carol", nil)

	if err := ix.RemoveUserSession(ctxT(t), "alice", a1); err != nil {
		t.Fatalf("RemoveUserSession: %v", err)
	}
	for _, tc := range []struct{ user, id string }{
		{"alice", a1},     // removed already
		{"alice", b1},     // another user's
		{"carol", a2},     // a user without an index
		{"alice", "zz"},   // not an id
		{"", newID(t)},    // no user
		{"bob", newID(t)}, // unknown
	} {
		if err := ix.RemoveUserSession(ctxT(t), tc.user, tc.id); err != nil {
			t.Errorf("RemoveUserSession(%q, %q): %v, want no error", tc.user, tc.id, err)
		}
	}
	expectListed(t, ix, "alice", []string{a2})
	expectListed(t, ix, "bob", []string{b1})
}

func testUserIndexExpiry(t *testing.T, s session.Store, _ options) {
	ix := s.(session.UserIndex)
	live, gone := newID(t), newID(t)
	mustAdd(t, ix, "alice", gone, now().Add(-time.Second))
	mustAdd(t, ix, "alice", live, now().Add(time.Hour))
	expectListed(t, ix, "alice", []string{live})
	// A later add (which may drop expired entries) keeps the live ones.
	next := newID(t)
	mustAdd(t, ix, "alice", next, now().Add(time.Hour))
	expectListed(t, ix, "alice", sorted(live, next))
	if err := s.DeleteExpired(ctxT(t)); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	expectListed(t, ix, "alice", sorted(live, next))
}

// testUserIndexNames checks that users are told apart exactly, whatever
// their names hold.
func testUserIndexNames(t *testing.T, s session.Store, o options) {
	ix := s.(session.UserIndex)
	names := []string{"alice", "Alice", "alice ", "a.b", "$where", "ünïcödé", "x\x01y", "%", "a#1"}
	want := map[string]string{}
	for _, name := range names {
		id := newID(t)
		want[name] = id
		mustAdd(t, ix, name, id, now().Add(time.Hour))
	}
	for _, name := range names {
		expectListed(t, ix, name, []string{want[name]})
	}
}

// peerOf returns the stores the concurrency tests spread their calls
// over: s, and a second store over its data when the test has a peer.
func peerOf(s session.Store, o options) []session.UserIndex {
	out := []session.UserIndex{s.(session.UserIndex)}
	if o.peer != nil {
		out = append(out, o.peer(s).(session.UserIndex))
	}
	return out
}

func testUserIndexConcurrentAdds(t *testing.T, s session.Store, o options) {
	stores := peerOf(s, o)
	const n = 24
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID(t)
	}
	// Every add is the first for the user at once: they race to make
	// the index too.
	parallel(t, n, func(i int) error {
		return stores[i%len(stores)].AddUserSession(ctxT(t), "alice", ids[i], now().Add(time.Hour))
	})
	for _, ix := range stores {
		expectListed(t, ix, "alice", sorted(ids...))
	}
}

func testUserIndexConcurrentAddsAndRemoves(t *testing.T, s session.Store, o options) {
	stores := peerOf(s, o)
	const n = 24
	old := make([]string, n)
	for i := range old {
		old[i] = newID(t)
		mustAdd(t, stores[0], "alice", old[i], now().Add(time.Hour))
	}
	added := make([]string, n)
	for i := range added {
		added[i] = newID(t)
	}
	// Logins and logouts of one user at once, from every store: half
	// the old sessions go, the new ones all arrive.
	parallel(t, 2*n, func(i int) error {
		ix := stores[i%len(stores)]
		if i%2 == 0 {
			return ix.AddUserSession(ctxT(t), "alice", added[i/2], now().Add(time.Hour))
		}
		if j := i / 2; j%2 == 0 {
			if err := ix.RemoveUserSession(ctxT(t), "alice", old[j]); err != nil {
				return fmt.Errorf("RemoveUserSession: %w", err)
			}
		}
		return nil
	})
	want := map[string]bool{}
	for j, id := range old {
		if j%2 == 1 {
			want[id] = true
		}
	}
	for _, id := range added {
		want[id] = true
	}
	for _, ix := range stores {
		expectListed(t, ix, "alice", sorted(slices.Collect(maps.Keys(want))...))
	}
}

// The tests of Manager.UserSessions and its kin, run by TestManager
// with Manager.Owner reading ownerKey.

// ownerKey is the session key that names the session's owner in these
// tests.
const ownerKey = "owner"

var userSessionTests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"Listed", testUserSessionsListed},
	{"EndOne", testEndUserSession},
	{"EndOthers", testEndUserSessions},
	{"LogoutUnlists", testLogoutUnlists},
	{"ExpiredUnlisted", testExpiredUnlisted},
}

// browser makes a new session logged in as user (anonymous when "") and
// returns its cookie value.
func (e *env) browser(t *testing.T, user string) string {
	t.Helper()
	res := e.request(t, "", 200, false, func(s *session.Session) {
		set("x", int64(1))(s)
		if user != "" {
			set(ownerKey, user)(s)
		}
	})
	if res.err != nil || res.cookie == nil {
		t.Fatalf("a new session for %q: err %v, cookie %v", user, res.err, res.cookie)
	}
	return res.cookie.Value
}

// ref returns the Ref of the session cookie finds.
func (e *env) ref(t *testing.T, cookie string) string {
	t.Helper()
	var ref string
	res := e.request(t, cookie, 200, false, func(s *session.Session) { ref = s.Ref() })
	if res.err != nil {
		t.Fatal(res.err)
	}
	return ref
}

// refs lists user's sessions and returns their refs, newest first.
func (e *env) refs(t *testing.T, user string) []string {
	t.Helper()
	list, err := e.m.UserSessions(ctxT(t), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	var out []string
	for _, us := range list {
		out = append(out, us.Ref)
	}
	return out
}

// noIndex reports, for a Manager whose sessions cannot be listed (a
// cookie codec, or a store that is not a session.UserIndex), that
// UserSessions says so as documented, failing the test otherwise.
func (e *env) noIndex(t *testing.T) bool {
	t.Helper()
	if e.m.Codec == nil {
		if _, ok := e.store.Store.(session.UserIndex); ok {
			return false
		}
	}
	if _, err := e.m.UserSessions(ctxT(t), "alice"); !errors.Is(err, session.ErrNoUserIndex) {
		t.Errorf("UserSessions without an index: %v, want ErrNoUserIndex", err)
	}
	return true
}

func testUserSessionsListed(t *testing.T, e *env) {
	a1 := e.browser(t, "alice")
	e.clock.advance(time.Second)
	a2 := e.browser(t, "alice")
	b1 := e.browser(t, "bob")
	e.browser(t, "")
	if e.noIndex(t) {
		// The sessions work all the same.
		if data, ok := e.load(t, a1); !ok || data[ownerKey] != "alice" {
			t.Errorf("alice's session: %v %v", data, ok)
		}
		return
	}
	r1, r2, rb := e.ref(t, a1), e.ref(t, a2), e.ref(t, b1)
	if r1 == "" || r1 == r2 || r1 == rb {
		t.Fatalf("refs %q %q %q: want distinct and non-empty", r1, r2, rb)
	}
	for _, c := range []string{a1, a2, b1} {
		tok, _ := session.ParseToken(c)
		if r := e.ref(t, c); r == c || r == session.Hash(tok) || r == session.Ref(c) {
			t.Errorf("ref %q is the token, its hash, or made from the token", r)
		}
	}
	if d := cmp.Diff([]string{r2, r1}, e.refs(t, "alice")); d != "" {
		t.Errorf("alice's sessions, newest first (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{rb}, e.refs(t, "bob")); d != "" {
		t.Errorf("bob's sessions (-want +got):\n%s", d)
	}
	if got := e.refs(t, "carol"); len(got) != 0 {
		t.Errorf("carol has no session, listed %q", got)
	}
	list, err := e.m.UserSessions(ctxT(t), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, us := range list {
		if us.Record.Data[ownerKey] != "alice" {
			t.Errorf("listed %v for alice", us.Record.Data)
		}
		if us.LastUsed.Before(us.Record.Created) || us.LastUsed.After(e.clock.now()) {
			t.Errorf("LastUsed %v outside [%v, now %v]", us.LastUsed, us.Record.Created, e.clock.now())
		}
	}
}

func testEndUserSession(t *testing.T, e *env) {
	a1, a2, b1 := e.browser(t, "alice"), e.browser(t, "alice"), e.browser(t, "bob")
	if e.noIndex(t) {
		return
	}
	r1, r2, rb := e.ref(t, a1), e.ref(t, a2), e.ref(t, b1)
	for _, tc := range []struct {
		user, ref string
	}{
		{"bob", r1},       // another user's session
		{"alice", rb},     // another user's session
		{"alice", "nope"}, // no such session
		{"alice", ""},     // nothing
		{"alice", a1},     // the token itself is no ref
	} {
		ok, err := e.m.EndUserSession(ctxT(t), tc.user, tc.ref)
		if err != nil || ok {
			t.Errorf("EndUserSession(%q, %q) = %v, %v; want false, nil", tc.user, tc.ref, ok, err)
		}
	}
	ok, err := e.m.EndUserSession(ctxT(t), "alice", r1)
	if err != nil || !ok {
		t.Fatalf("EndUserSession(alice, her own) = %v, %v; want true", ok, err)
	}
	if _, found := e.load(t, a1); found {
		t.Error("the ended session is still found")
	}
	for _, c := range []string{a2, b1} {
		if _, found := e.load(t, c); !found {
			t.Error("ending one session ended another")
		}
	}
	if d := cmp.Diff([]string{r2}, e.refs(t, "alice")); d != "" {
		t.Errorf("alice's sessions after ending one (-want +got):\n%s", d)
	}
	if ok, _ := e.m.EndUserSession(ctxT(t), "alice", r1); ok {
		t.Error("a session ended twice")
	}
}

func testEndUserSessions(t *testing.T, e *env) {
	cookies := []string{e.browser(t, "alice"), e.browser(t, "alice"), e.browser(t, "alice")}
	b1 := e.browser(t, "bob")
	if e.noIndex(t) {
		return
	}
	keep := e.ref(t, cookies[1])
	n, err := e.m.EndUserSessions(ctxT(t), "alice", keep)
	if err != nil || n != 2 {
		t.Fatalf("EndUserSessions = %d, %v; want 2", n, err)
	}
	for i, c := range cookies {
		if _, found := e.load(t, c); found != (i == 1) {
			t.Errorf("session %d found %v after ending the others of the second", i, found)
		}
	}
	if _, found := e.load(t, b1); !found {
		t.Error("ending alice's sessions ended bob's")
	}
	if d := cmp.Diff([]string{keep}, e.refs(t, "alice")); d != "" {
		t.Errorf("alice's sessions (-want +got):\n%s", d)
	}
}

func testLogoutUnlists(t *testing.T, e *env) {
	a1, a2 := e.browser(t, "alice"), e.browser(t, "alice")
	if e.noIndex(t) {
		return
	}
	r2 := e.ref(t, a2)
	res := e.request(t, a1, 200, false, func(s *session.Session) {
		if err := s.Destroy(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if d := cmp.Diff([]string{r2}, e.refs(t, "alice")); d != "" {
		t.Errorf("alice's sessions after a logout (-want +got):\n%s", d)
	}
	// A login renews the token: the old session leaves the list, the
	// new one is in it.
	var renewed string
	res = e.request(t, a2, 200, false, func(s *session.Session) {
		if err := s.RenewToken(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
	if res.err != nil || res.cookie == nil {
		t.Fatalf("renewing: %v %v", res.err, res.cookie)
	}
	renewed = e.ref(t, res.cookie.Value)
	if d := cmp.Diff([]string{renewed}, e.refs(t, "alice")); d != "" {
		t.Errorf("alice's sessions after renewing one (-want +got):\n%s", d)
	}
}

func testExpiredUnlisted(t *testing.T, e *env) {
	e.browser(t, "alice")
	if e.noIndex(t) {
		return
	}
	e.clock.advance(e.m.IdleTimeout + session.DefaultIdleTimeout)
	if got := e.refs(t, "alice"); len(got) != 0 {
		t.Errorf("an idle-expired session is listed: %q", got)
	}
}
