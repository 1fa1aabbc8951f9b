package mongostore

import (
	"sync"
)

// A Versioner tells when a document may have changed: Version(db, coll,
// id) changes whenever the document {_id: id} of db.coll may have been
// inserted, changed or deleted, by any connection. A copy read after
// recording v = Version(...) stays valid while Version(...) == v.
type Versioner interface {
	Version(db, coll, id string) uint64
}

// An Option configures a Store.
type Option func(*Store)

// WithCache keeps up to size decoded sessions in the process (0 means
// 10,000), each validated on use by v: a cached session is used while v
// reports that its next version has not been inserted, so a save or a
// logout from any process is seen at the next request.
func WithCache(v Versioner, size int) Option {
	return func(s *Store) {
		if size <= 0 {
			size = 10_000
		}
		s.cache = &cache{v: v, max: size, m: map[string]cached{}}
	}
}

// cache keeps decoded latest versions, validated by a Versioner. A nil
// *cache caches nothing.
type cache struct {
	v   Versioner
	max int

	mu sync.Mutex
	m  map[string]cached
}

// cached is the latest version of a session as last read, and the
// Versioner's token for the _id of the version after it, taken before
// that _id was found missing.
type cached struct {
	st   state
	next uint64
}

func (c *cache) version(db, id string) uint64 {
	if c == nil {
		return 0
	}
	return c.v.Version(db, Collection, id)
}

func (c *cache) get(id string) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok
}

// put keeps e, replacing a copy of an older version only; when full it
// first drops an arbitrary entry.
func (c *cache) put(id string, e cached) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok && old.st.n > e.st.n {
		return
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
}

func (c *cache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
