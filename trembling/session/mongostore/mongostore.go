// Package mongostore is a [session.Store] that keeps sessions in the
// MongoDB collection "sessions", through the official Go driver (v2).
//
// # Exact _id lookups only
//
// Every query the store makes while serving a request is an exact
// {_id: <string>} lookup or insert. The embedded engine (FerretDB on
// SQLite) turns only that filter into an indexed SQL query; any other
// filter reads the whole collection. Expiry and the other liveness rules
// are checked in Go, after the read. Only [Store.DeleteExpired], the
// periodic sweep, reads the whole collection.
//
// # Versions: exact without atomic read-modify-write
//
// A standalone FerretDB server has no atomic read-modify-write, but every
// engine makes the insert of a document with a unique _id atomic. The
// store builds on that alone. A session with id H is a chain of versions:
//
//   - the head, _id H, holds a version number n and a copy of version n;
//   - version k >= 1 is the document _id "H#k", the whole session after
//     the k-th save.
//
// The current state is found by reading the head and probing H#n+1,
// H#n+2, ... (each an exact _id lookup) until one is missing: usually one
// read and one miss. [Store.Update] reads the latest version n, applies
// its own [session.Change] to it and inserts H#n+1. If that insert fails
// with a duplicate key, another request saved first: it reads the new
// latest version and applies its change again, so concurrent requests
// merge by key and pushed messages all arrive. Then it replaces the head
// with a copy of version n+1; a head left behind by a slower writer only
// costs readers one more probe. [Store.Delete] (a logout) inserts a
// tombstone version the same way, so a save in flight loses the insert
// race, reads the tombstone and drops its change: a deleted session is
// never brought back. A save that finds the session expired (it expired
// between the request's load and its save) is dropped the same way, and
// Update reports false.
//
// Old versions are removed by the sweep, and only when that is safe: a
// version is removed when the head has been at or past it for longer than
// [Grace] (so no reader can still need it as its starting point, and no
// writer can still be working from an older one); a chain whose latest
// version is expired or a tombstone is removed head first, so that a
// reader never sees an older version without the newer ones. This relies
// on no store call lasting longer than [Grace].
//
// # Documents
//
// Each document is
//
//	{_id: H or "H#k", sid: H, v: k, data: {...},
//	 created: <date>, idleExpires: <date>, absoluteExpires: <date>,
//	 expiresAt: <date, the absolute expiry>, at: <date of the write>,
//	 deleted: true (tombstones only)}
//
// expiresAt is the absolute expiry, the same in every version of a
// session, so that a TTL index removes whole chains and never a head
// whose later versions live on. Heads written before versions existed
// (no v) read as version 0.
//
// Session data is a BSON document: int64 as "long", float64 as "double",
// lists as arrays, maps as embedded documents. Keys are escaped so that
// any string is a valid field name: '%' is written %25, '.' %2E, '$' %24
// and NUL %00, and the empty key is written as a lone '%'. A list directly
// inside a list is written as a document {"%L": [...]}, since the
// embedded engine refuses nested arrays; no escaped key is "%L", so the
// form is unambiguous. Integers that another writer stored as 32-bit read
// back as int64.
//
// # Users' indexes
//
// The store is a [session.UserIndex]: the sessions of one user are listed
// in a version chain of their own, with _id "u" + hex(SHA-256(user)) (no
// session's _id has that form, and the name itself is not stored), whose
// data maps each session id to its absolute expiry. Adding and removing
// an entry is a [session.Change] applied by the same insert race as a
// session's save, so concurrent logins and logouts of one user, from any
// number of processes, all keep their entries; listing reads the index
// by _id and never scans. An index never expires (its documents are
// marked index: true, and Count leaves them out): the sweep removes its
// old versions, and one small head stays for each user who has logged
// in. Entries whose expiry has passed are dropped by the next addition.
//
// # Cache
//
// [WithCache] gives the store an in-process cache of decoded latest
// versions, validated on each use by a [Versioner] (the embedded engine),
// so that a session read costs no database call while nothing changed,
// and a logout from any process takes effect at the next request.
//
// [Store.EnsureIndexes] creates a TTL index on expiresAt where the server
// has them; the embedded engine has none (and a plain index would only
// slow its writes), so there expired sessions are removed by the sweep
// alone.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/trembling/session"
)

// Collection is the name of the collection sessions are kept in.
const Collection = "sessions"

// Grace is how long a version stays after the head has moved past it, and
// the longest a store call is assumed to last.
const Grace = 5 * time.Minute

// maxRetries bounds how often Update and Delete retry after losing an
// insert race; each loss means another request saved the same session.
const maxRetries = 100

// Store is a MongoDB session store. It is safe for concurrent use.
type Store struct {
	// Now returns the current time for expiry checks; nil means time.Now.
	// Set it before first use.
	Now func() time.Time
	// Logger receives what EnsureIndexes and Sweep report; nil means
	// slog.Default(). Set it before first use.
	Logger *slog.Logger

	coll  *mongo.Collection
	db    string
	cache *cache // nil without WithCache

	// stripes serialize this process's saves of one session, so that
	// its own requests on one session take turns instead of racing for
	// the next version (each lost race costs a read and a retry, and
	// many parallel requests on one session would mostly lose). Other
	// processes still race, and the version chain keeps that exact.
	stripes [64]chan struct{}

	pmu     sync.Mutex
	pending map[string][]*pendingSave // saves waiting for their turn, by session
}

var _ session.Store = (*Store)(nil)

// New returns a store using the collection "sessions" of db. Call
// [Store.EnsureIndexes] once at startup.
func New(db *mongo.Database, opts ...Option) *Store {
	s := &Store{coll: db.Collection(Collection), db: db.Name(), pending: map[string][]*pendingSave{}}
	for i := range s.stripes {
		s.stripes[i] = make(chan struct{}, 1)
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// versionID is the _id of version k of session id; version 0 is the head.
func versionID(id string, k int64) string {
	if k == 0 {
		return id
	}
	return id + "#" + strconv.FormatInt(k, 10)
}

// state is a version of a session.
type state struct {
	n       int64
	rec     session.Record
	deleted bool
}

func (st state) live(now time.Time) bool {
	return !st.deleted && !st.rec.Expired(now)
}

// doc returns the document of version n of session id.
func doc(id string, n int64, rec session.Record, deleted bool, at time.Time) bson.D {
	d := bson.D{
		{Key: "_id", Value: versionID(id, n)},
		{Key: "sid", Value: id},
		{Key: "v", Value: n},
		{Key: "data", Value: encodeDoc(rec.Data)},
		{Key: "created", Value: rec.Created},
		{Key: "idleExpires", Value: rec.IdleExpires},
		{Key: "absoluteExpires", Value: rec.AbsoluteExpires},
		{Key: "expiresAt", Value: rec.AbsoluteExpires},
		{Key: "at", Value: at},
	}
	if deleted {
		d = append(d, bson.E{Key: "deleted", Value: true})
	}
	if isIndex(id) {
		d = append(d, bson.E{Key: "index", Value: true}) // a user's index, not a session
	}
	return d
}

// byID is the filter of the document with _id id: the only filter the
// store uses on a request path.
func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// get reads the document with _id id.
func (s *Store) get(ctx context.Context, id string) (state, bool, error) {
	raw, err := s.coll.FindOne(ctx, byID(id)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return state{}, false, fmt.Errorf("session %.8s…: %w", id, err)
	}
	st := state{rec: rec}
	if v, ok := raw.Lookup("v").AsInt64OK(); ok {
		st.n = v
	}
	st.deleted, _ = raw.Lookup("deleted").BooleanOK()
	return st, true, nil
}

// latest returns the latest version of session id.
func (s *Store) latest(ctx context.Context, id string) (state, bool, error) {
	if c, ok := s.cache.get(id); ok {
		if s.cache.version(s.db, versionID(id, c.st.n+1)) == c.next {
			return c.st, true, nil
		}
		st, err := s.probe(ctx, id, c.st)
		return st, true, err
	}
	st, found, err := s.get(ctx, id)
	if err != nil || !found {
		return state{}, false, err
	}
	st, err = s.probe(ctx, id, st)
	return st, true, err
}

// probe returns the latest version of session id from st on: st, or the
// last of the versions after it, which it reads one by one until one is
// missing.
func (s *Store) probe(ctx context.Context, id string, st state) (state, error) {
	for {
		next := s.cache.version(s.db, versionID(id, st.n+1))
		v, ok, err := s.get(ctx, versionID(id, st.n+1))
		if err != nil {
			return state{}, err
		}
		if !ok {
			s.cache.put(id, cached{st: st, next: next})
			return st, nil
		}
		st = v
	}
}

// Find returns the live record stored under id.
func (s *Store) Find(ctx context.Context, id string) (session.Record, bool, error) {
	if !validID(id) {
		return session.Record{}, false, nil // never stored: no query for it
	}
	st, found, err := s.latest(ctx, id)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("mongostore: finding session: %w", err)
	}
	if !found || !st.live(s.now()) {
		return session.Record{}, false, nil
	}
	return st.rec.Clone(), true, nil
}

// validID reports whether id has the form of the ids the Manager makes,
// session.Hash of a token: 64 lower-case hex digits. Any other id is
// unknown without a query, so that no malformed value (a NUL, which
// PostgreSQL refuses, or an operator) ever reaches the database.
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Create inserts r as the head of a new session id. It fails with
// session.ErrExists when the id is taken, live or not: ids are hashes of
// random tokens, never reused, and the sweep removes expired chains.
func (s *Store) Create(ctx context.Context, id string, r session.Record) error {
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	next := s.cache.version(s.db, versionID(id, 1))
	_, err := s.coll.InsertOne(ctx, doc(id, 0, r, false, s.now()))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: creating session: %w", session.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("mongostore: creating session: %w", err)
	}
	s.cache.put(id, cached{st: state{rec: r.Clone()}, next: next})
	return nil
}

// Update applies c to the latest live version of session id and inserts
// the result as the next version (see the package doc). This process's
// saves of one session take turns, and a save that finds others waiting
// for their turn writes theirs too, in one version (group commit): each
// change is applied in turn, as it would have been one by one, and each
// caller is answered once the version holding its change is written.
func (s *Store) Update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	if !validID(id) {
		return session.Record{}, false, nil // never stored: no query for it
	}
	return s.update(ctx, id, c)
}

// update is Update of the chain id, a session's or a user index's.
func (s *Store) update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	p := &pendingSave{c: c}
	s.pmu.Lock()
	s.pending[id] = append(s.pending[id], p)
	s.pmu.Unlock()
	unlock, err := s.lock(ctx, id)
	if err != nil {
		s.pmu.Lock()
		s.pending[id] = slices.DeleteFunc(s.pending[id], func(q *pendingSave) bool { return q == p })
		if len(s.pending[id]) == 0 {
			delete(s.pending, id)
		}
		s.pmu.Unlock()
		return session.Record{}, false, fmt.Errorf("mongostore: updating session: %w", err)
	}
	defer unlock()
	s.pmu.Lock()
	var batch []*pendingSave
	if !p.done { // p is still waiting: write it and whatever waits with it
		batch = s.pending[id]
		delete(s.pending, id)
	}
	s.pmu.Unlock()
	if batch != nil {
		s.commit(ctx, id, batch)
	}
	return p.rec, p.ok, p.err
}

// A pendingSave is one caller's change waiting to be written, and then
// its outcome.
type pendingSave struct {
	c    session.Change
	done bool // set under Store.pmu once rec, ok and err are the outcome
	rec  session.Record
	ok   bool
	err  error
}

// commit applies the changes of batch in order to the latest live
// version of session id and inserts the result as the next version,
// retrying from the new latest version after losing an insert race to
// another process. It sets every save's outcome.
func (s *Store) commit(ctx context.Context, id string, batch []*pendingSave) {
	finish := func(ok bool, err error, rec session.Record) {
		s.pmu.Lock()
		defer s.pmu.Unlock()
		for _, p := range batch {
			if p.err == nil {
				p.ok, p.err = ok, err
				if ok {
					p.rec = rec.Clone()
				}
			}
			p.done = true
		}
	}
	st, found, err := s.latest(ctx, id)
	for range maxRetries {
		if err != nil {
			finish(false, fmt.Errorf("mongostore: updating session: %w", err), session.Record{})
			return
		}
		if !found || !st.live(s.now()) {
			finish(false, nil, session.Record{})
			return
		}
		rec := st.rec
		applied := 0
		for _, p := range batch {
			p.err = nil
			r, aerr := p.c.Apply(rec)
			if aerr != nil {
				p.err = fmt.Errorf("mongostore: updating session: %w", aerr)
				continue
			}
			rec = r
			applied++
		}
		if applied == 0 {
			finish(false, nil, session.Record{})
			return
		}
		ok, werr := s.append(ctx, id, st.n+1, rec, false)
		if werr != nil {
			finish(false, fmt.Errorf("mongostore: updating session: %w", werr), session.Record{})
			return
		}
		if ok {
			finish(true, nil, rec)
			return
		}
		// Another process wrote version n+1: go on from there.
		st, err = s.probe(ctx, id, st)
	}
	finish(false, fmt.Errorf("mongostore: updating session: lost the race %d times", maxRetries), session.Record{})
}

// lock waits for the turn of session id among this process's saves, or
// for ctx to end, and returns the function that ends the turn.
func (s *Store) lock(ctx context.Context, id string) (func(), error) {
	h := fnv.New32a()
	h.Write([]byte(id))
	c := s.stripes[h.Sum32()%uint32(len(s.stripes))]
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// append inserts version n of session id and then moves the head to it.
// It reports false when version n exists: another request wrote it first.
func (s *Store) append(ctx context.Context, id string, n int64, rec session.Record, deleted bool) (bool, error) {
	// Version n+1 cannot exist before n does, so a token taken now stays
	// valid for the version written here.
	next := s.cache.version(s.db, versionID(id, n+1))
	now := s.now()
	d := doc(id, n, rec, deleted, now)
	_, err := s.coll.InsertOne(ctx, d)
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.cache.put(id, cached{st: state{n: n, rec: rec.Clone(), deleted: deleted}, next: next})
	// The head: never upserted, so that a chain the sweep removed stays
	// removed; a failure here leaves a stale head, which costs probes.
	d[0].Value = id
	if _, err := s.coll.ReplaceOne(ctx, byID(id), d); err != nil && ctx.Err() == nil {
		s.log().Warn("mongostore: moving a session's head", "err", err)
	}
	return true, nil
}

// Delete ends session id by inserting a tombstone as its next version.
// Deleting an unknown or already deleted id is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil // never stored: no query for it
	}
	unlock, err := s.lock(ctx, id)
	if err != nil {
		return fmt.Errorf("mongostore: deleting session: %w", err)
	}
	defer unlock()
	st, found, err := s.latest(ctx, id)
	for range maxRetries {
		if err != nil {
			return fmt.Errorf("mongostore: deleting session: %w", err)
		}
		if !found || st.deleted {
			return nil
		}
		rec := session.Record{Data: map[string]any{}, Created: st.rec.Created, IdleExpires: st.rec.IdleExpires, AbsoluteExpires: st.rec.AbsoluteExpires}
		ok, werr := s.append(ctx, id, st.n+1, rec, true)
		if werr != nil {
			return fmt.Errorf("mongostore: deleting session: %w", werr)
		}
		if ok {
			return nil
		}
		st, err = s.probe(ctx, id, st)
	}
	return fmt.Errorf("mongostore: deleting session: lost the race %d times", maxRetries)
}

// Fill stores r as a new session under each of ids, in one InsertMany:
// for benchmarks and imports, where one Create each would be slow.
func (s *Store) Fill(ctx context.Context, ids []string, r session.Record) error {
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	now := s.now()
	docs := make([]any, len(ids))
	next := make([]uint64, len(ids))
	for i, id := range ids {
		docs[i] = doc(id, 0, r, false, now)
		next[i] = s.cache.version(s.db, versionID(id, 1))
	}
	if _, err := s.coll.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("mongostore: filling: %w", err)
	}
	for i, id := range ids {
		s.cache.put(id, cached{st: state{rec: r.Clone()}, next: next[i]})
	}
	return nil
}

// Database returns the database the store keeps its collection in.
func (s *Store) Database() *mongo.Database { return s.coll.Database() }
