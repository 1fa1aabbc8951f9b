package embedded

import "sync"

// maxTrackedDocs bounds the per-document counters of a versions: past it,
// they are all forgotten and every version moves on.
const maxTrackedDocs = 1 << 16

// scope says what a bump covers.
type scope uint8

const (
	scopeAll  scope = iota // every document of every database
	scopeDB                // every document of database db
	scopeColl              // every document of db.coll
	scopeDoc               // the document {_id: id} of db.coll
)

// target is what one write may change.
type target struct {
	scope        scope
	db, coll, id string
}

type collKey struct{ db, coll string }

type docKey struct{ db, coll, id string }

// versions counts, for the relay, the writes that may have changed each
// document. Every bump takes a new value from one sequence, so a version
// (the largest value among the counters that cover a document) never takes
// a value twice and changes on every bump that covers the document, even
// after the per-document counters are forgotten.
type versions struct {
	mu     sync.Mutex
	seq    uint64
	closed bool // the engine stopped: nothing is tracked any more
	all    uint64
	dbs    map[string]uint64
	colls  map[collKey]uint64
	docs   map[docKey]uint64
	max    int // bound on len(docs)
}

func newVersions(maxDocs int) *versions {
	return &versions{
		dbs:   make(map[string]uint64),
		colls: make(map[collKey]uint64),
		docs:  make(map[docKey]uint64),
		max:   maxDocs,
	}
}

// bump moves on the counters of ts.
func (v *versions) bump(ts []target) {
	if len(ts) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, t := range ts {
		v.seq++
		switch t.scope {
		case scopeAll:
			v.all = v.seq
		case scopeDB:
			v.dbs[t.db] = v.seq
		case scopeColl:
			v.colls[collKey{t.db, t.coll}] = v.seq
		case scopeDoc:
			k := docKey{t.db, t.coll, t.id}
			if _, ok := v.docs[k]; !ok && len(v.docs) >= v.max {
				// Forgetting lowers the versions of the forgotten
				// documents: move every version past all earlier values.
				clear(v.docs)
				v.all = v.seq
				v.seq++
			}
			v.docs[k] = v.seq
		}
	}
}

// close stops tracking: from now on, every get returns a new value.
func (v *versions) close() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
}

// get returns the version of the document {_id: id} of db.coll.
func (v *versions) get(db, coll, id string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		v.seq++
		return v.seq
	}
	return max(v.all, v.dbs[db], v.colls[collKey{db, coll}], v.docs[docKey{db, coll, id}])
}
