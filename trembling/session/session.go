package session

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// A Session is one request's view of a session, from [Manager.Load] to
// [Manager.Commit]. It is not safe for concurrent use.
type Session struct {
	m      *Manager
	token  Token             // meaningful when stored and the backend is a Store
	rec    Record            // rec.Data is the live data
	base   map[string][]byte // canonical encoding of each key as last loaded or saved
	push   map[string][]any  // items pushed by this request, by key
	pull   map[string][]any  // items pulled by this request, by key
	stored bool              // a record (or sealed cookie) exists for this session
	expire bool              // the client holds a cookie that Commit must expire
	secure bool              // the cookie is Secure (see Cookie.SecureFor)
}

// Get returns the value stored under key.
func (s *Session) Get(key string) (any, bool) {
	v, ok := s.rec.Data[key]
	return v, ok
}

// Set stores v under key. It refuses values that [CheckValue] refuses.
func (s *Session) Set(key string, v any) error {
	if err := CheckValue(key, v); err != nil {
		return err
	}
	s.rec.Data[key] = v
	return nil
}

// Delete removes key.
func (s *Session) Delete(key string) {
	delete(s.rec.Data, key)
}

// Pop removes key and returns the value it held.
func (s *Session) Pop(key string) (any, bool) {
	v, ok := s.rec.Data[key]
	delete(s.rec.Data, key)
	return v, ok
}

// Push appends v to the list under key, and makes Commit send the
// addition as such (see [Change]), so that items pushed by concurrent
// requests all arrive. It refuses values [CheckValue] refuses.
func (s *Session) Push(key string, v any) error {
	if err := CheckValue(key, v); err != nil {
		return err
	}
	list, _ := s.rec.Data[key].([]any)
	s.rec.Data[key] = append(list, v)
	if s.push == nil {
		s.push = map[string][]any{}
	}
	s.push[key] = append(s.push[key], v)
	return nil
}

// Pull removes every item equal to v from the list under key, and makes
// Commit send the removal as such (see [Change]), so that a concurrent
// request's pushes are kept. A list left empty is removed.
func (s *Session) Pull(key string, v any) error {
	enc, err := encodeValue(key, v)
	if err != nil {
		return err
	}
	same := func(x any) bool {
		e, err := encodeValue(key, x)
		return err == nil && bytes.Equal(e, enc)
	}
	if list, ok := s.rec.Data[key].([]any); ok {
		list = slices.DeleteFunc(slices.Clone(list), same)
		if len(list) == 0 {
			delete(s.rec.Data, key)
		} else {
			s.rec.Data[key] = list
		}
	}
	if n := len(s.push[key]); n > 0 {
		// Pushed by this request: then it was never stored.
		if s.push[key] = slices.DeleteFunc(s.push[key], same); len(s.push[key]) < n {
			return nil
		}
	}
	if s.pull == nil {
		s.pull = map[string][]any{}
	}
	s.pull[key] = append(s.pull[key], v)
	return nil
}

// Clear removes every key. A session emptied this way is deleted by
// Commit.
func (s *Session) Clear() {
	clear(s.rec.Data)
}

// Data returns the session's data itself, never nil: changes made to it,
// at any depth, are saved by Commit, which refuses values [CheckValue]
// refuses.
func (s *Session) Data() map[string]any {
	return s.rec.Data
}

// IsNew reports whether the session has no saved record: it is new, or
// was destroyed or renewed in this request.
func (s *Session) IsNew() bool {
	return !s.stored
}

// Created returns when the session was first saved (or last renewed), or
// the zero time for a new session.
func (s *Session) Created() time.Time {
	if !s.stored {
		return time.Time{}
	}
	return s.rec.Created
}

// Destroy ends the session, as a logout does: its record is deleted from
// the store at once, its data is cleared and Commit expires the cookie.
// The request goes on with a new empty session; if it stores something,
// Commit saves it under a new token.
//
// With a [CookieCodec] there is no record to delete: the cookie is
// expired, but a copy of it stays valid until it expires.
func (s *Session) Destroy(ctx context.Context) error {
	if err := s.drop(ctx); err != nil {
		return err
	}
	s.rec = Record{Data: map[string]any{}}
	s.base, s.push, s.pull = nil, nil, nil
	return nil
}

// RenewToken gives the session a new token and keeps its data, as a
// login does against session fixation: the old record is deleted from
// the store at once, and Commit saves the data under a new token with a
// new creation time and absolute lifetime. A session that is empty at
// Commit is not saved.
func (s *Session) RenewToken(ctx context.Context) error {
	return s.drop(ctx)
}

// drop deletes the stored record, if any, and makes the session new.
func (s *Session) drop(ctx context.Context) error {
	if !s.stored {
		return nil
	}
	if s.m.Store != nil && s.m.Codec == nil {
		if err := s.m.Store.Delete(ctx, Hash(s.token)); err != nil {
			return fmt.Errorf("session: deleting session: %w", err)
		}
		s.m.unindex(ctx, Hash(s.token), s.rec.Data)
	}
	s.stored = false
	s.expire = true
	s.token = Token{}
	return nil
}
