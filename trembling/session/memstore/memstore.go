// Package memstore is a [session.Store] that keeps sessions in memory, in
// one process: for development, tests and single-process sites that can
// lose their sessions on restart.
//
// Expired records are never returned; [session.Sweep] (or calling
// DeleteExpired now and then) reclaims their memory. Update merges a
// [session.Change] under the store's lock, so concurrent requests on one
// session merge exactly, and a deleted record is never brought back.
//
// The store is bounded, so that visitors cannot exhaust the process's
// memory: it holds at most MaxSessions records of at most MaxBytes in
// all (sizes estimated from the data), and beyond either bound it drops
// the records written longest ago, live or not. A dropped session is
// simply gone, as after a restart.
package memstore

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// Default bounds of a Store.
const (
	DefaultMaxSessions = 100_000
	DefaultMaxBytes    = 256 << 20
)

// Store is an in-memory session store. Its zero value is not usable; call
// [New]. It is safe for concurrent use.
type Store struct {
	// Now returns the current time for expiry checks; nil means time.Now.
	// Set it before first use.
	Now func() time.Time
	// MaxSessions and MaxBytes bound the records held and their
	// estimated size in all; the records written longest ago are dropped
	// beyond them. New sets the defaults; change them before first use.
	MaxSessions int
	MaxBytes    int64

	mu      sync.Mutex
	records map[string]*list.Element // of *entry
	order   list.List                // oldest write first
	bytes   int64
	users   map[string]map[string]time.Time // user -> session id -> expiry
	ownerOf map[string]string               // session id -> user, for the ids in users
}

// entry is one record with its estimated size.
type entry struct {
	id   string
	rec  session.Record
	size int64
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// New returns an empty store with the default bounds.
func New() *Store {
	return &Store{
		MaxSessions: DefaultMaxSessions,
		MaxBytes:    DefaultMaxBytes,
		records:     map[string]*list.Element{},
		users:       map[string]map[string]time.Time{},
		ownerOf:     map[string]string{},
	}
}

// put stores r under id as the newest write and drops the oldest records
// beyond the bounds. s.mu is held.
func (s *Store) put(id string, r session.Record) {
	s.remove(id)
	e := &entry{id: id, rec: r, size: recordSize(r)}
	s.records[id] = s.order.PushBack(e)
	s.bytes += e.size
	for s.order.Len() > 1 && (s.order.Len() > s.MaxSessions || s.bytes > s.MaxBytes) {
		oldest := s.order.Front().Value.(*entry).id
		s.remove(oldest)
		s.unindex(oldest)
	}
}

// get returns the record stored under id. s.mu is held.
func (s *Store) get(id string) (session.Record, bool) {
	el, ok := s.records[id]
	if !ok {
		return session.Record{}, false
	}
	return el.Value.(*entry).rec, true
}

// remove drops the record stored under id, if any. s.mu is held.
func (s *Store) remove(id string) {
	if el, ok := s.records[id]; ok {
		s.bytes -= el.Value.(*entry).size
		s.order.Remove(el)
		delete(s.records, id)
	}
}

// unindex drops id from its user's index. s.mu is held.
func (s *Store) unindex(id string) {
	user, ok := s.ownerOf[id]
	if !ok {
		return
	}
	delete(s.ownerOf, id)
	delete(s.users[user], id)
	if len(s.users[user]) == 0 {
		delete(s.users, user)
	}
}

// recordSize estimates the memory a record takes: its id, times, and
// every key and value of its data, with an allowance for map and slice
// headers. It needs to be cheap and monotonic, not exact.
func recordSize(r session.Record) int64 {
	return 160 + valueSize(r.Data)
}

func valueSize(v any) int64 {
	switch v := v.(type) {
	case string:
		return 16 + int64(len(v))
	case map[string]any:
		n := int64(48)
		for k, x := range v {
			n += 16 + int64(len(k)) + valueSize(x)
		}
		return n
	case []any:
		n := int64(24)
		for _, x := range v {
			n += valueSize(x)
		}
		return n
	}
	return 16 // numbers, booleans, nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Find returns a copy of the live record stored under id.
func (s *Store) Find(ctx context.Context, id string) (session.Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return session.Record{}, false, err
	}
	now := s.now()
	s.mu.Lock()
	r, ok := s.get(id)
	s.mu.Unlock()
	if !ok || r.Expired(now) {
		return session.Record{}, false, nil
	}
	// Stored records are never changed in place, only replaced, so the
	// copy can be made outside the lock.
	return r.Clone(), true, nil
}

// Create stores a copy of r under id.
func (s *Store) Create(ctx context.Context, id string, r session.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r = r.Clone()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.get(id); ok && !old.Expired(now) {
		return fmt.Errorf("memstore: creating session: %w", session.ErrExists)
	}
	s.put(id, r)
	return nil
}

// Update applies c to the live record stored under id, under the
// store's lock, so that concurrent Updates merge.
func (s *Store) Update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return session.Record{}, false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.get(id)
	if !ok || old.Expired(now) {
		return session.Record{}, false, nil
	}
	r, err := c.Apply(old)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("memstore: updating session: %w", err)
	}
	s.put(id, r)
	return r.Clone(), true, nil
}

// Delete removes the record stored under id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.remove(id)
	s.unindex(id)
	s.mu.Unlock()
	return nil
}

// DeleteExpired removes every expired record.
func (s *Store) DeleteExpired(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, el := range s.records {
		if el.Value.(*entry).rec.Expired(now) {
			s.remove(id)
		}
	}
	for id, user := range s.ownerOf {
		if _, ok := s.records[id]; !ok && !now.Before(s.users[user][id]) {
			s.unindex(id)
		}
	}
	return nil
}

// AddUserSession records that session id belongs to user until expires.
// An id deleted or dropped beyond the store's bounds leaves the index
// with it, and an expired one with the sweep (DeleteExpired).
func (s *Store) AddUserSession(ctx context.Context, user, id string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unindex(id)
	if s.users[user] == nil {
		s.users[user] = map[string]time.Time{}
	}
	s.users[user][id] = expires
	s.ownerOf[id] = user
	return nil
}

// RemoveUserSession drops id from user's index.
func (s *Store) RemoveUserSession(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownerOf[id] == user {
		s.unindex(id)
	}
	return nil
}

// UserSessions returns the ids in user's index that have not expired.
func (s *Store) UserSessions(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, exp := range s.users[user] {
		if now.Before(exp) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Count returns the number of records held, expired ones included.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records), nil
}
