package auth

import "sync"

// DefaultCacheSize is the number of accounts a [Users] with
// [Options.Versions] keeps when [Options.CacheSize] is 0.
const DefaultCacheSize = 4096

// Versioner reports a version of one stored document: a number that
// changes whenever the document {_id: id} of collection coll in database
// db may have been changed or deleted, by any connection. The embedded
// engine, which sees every write to its data, provides one. A copy of a
// document read after the version was v is current as long as the
// version is still v.
type Versioner interface {
	Version(db, coll, id string) uint64
}

// userCache keeps accounts read from the database, each with the version
// of its document recorded before the read.
type userCache struct {
	versions Versioner
	db       string
	size     int

	mu      sync.Mutex
	entries map[string]cacheEntry // by canonical username
}

type cacheEntry struct {
	version uint64
	doc     userDoc
}

// version returns the current version of the account id.
func (c *userCache) version(id string) uint64 {
	return c.versions.Version(c.db, UsersCollection, id)
}

// get returns the cached account id if it is still at version v.
func (c *userCache) get(id string, v uint64) (userDoc, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || e.version != v {
		return userDoc{}, false
	}
	return e.doc, true
}

// put keeps d, read after the version of id was v. When the cache is
// full, an arbitrary entry makes room.
func (c *userCache) put(id string, v uint64, d userDoc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.size {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[id] = cacheEntry{version: v, doc: d}
}

// forget drops the account id, after a write of this process (the
// version changes too; this only spares a stale entry its memory).
func (c *userCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// len returns the number of cached accounts.
func (c *userCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
