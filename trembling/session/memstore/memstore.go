// Package memstore is a [session.Store] that keeps sessions in memory, in
// one process: for development, tests and single-process sites that can
// lose their sessions on restart.
//
// Expired records are never returned; [session.Sweep] (or calling
// DeleteExpired now and then) reclaims their memory. Update merges a
// [session.Change] under the store's lock, so concurrent requests on one
// session merge exactly, and a deleted record is never brought back.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// Store is an in-memory session store. Its zero value is not usable; call
// [New]. It is safe for concurrent use.
type Store struct {
	// Now returns the current time for expiry checks; nil means time.Now.
	// Set it before first use.
	Now func() time.Time

	mu      sync.Mutex
	records map[string]session.Record
}

var _ session.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{records: map[string]session.Record{}}
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
	r, ok := s.records[id]
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
	if old, ok := s.records[id]; ok && !old.Expired(now) {
		return fmt.Errorf("memstore: creating session: %w", session.ErrExists)
	}
	s.records[id] = r
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
	old, ok := s.records[id]
	if !ok || old.Expired(now) {
		return session.Record{}, false, nil
	}
	r, err := c.Apply(old)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("memstore: updating session: %w", err)
	}
	s.records[id] = r
	return r.Clone(), true, nil
}

// Delete removes the record stored under id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.records, id)
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
	for id, r := range s.records {
		if r.Expired(now) {
			delete(s.records, id)
		}
	}
	return nil
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
