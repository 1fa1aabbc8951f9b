package session

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A UserIndex is a [Store] that keeps, for each user, the ids of the
// sessions logged in as that user, so that [Manager.UserSessions] finds
// them without reading every stored session. Every method is bounded by
// its ctx and safe for concurrent use, and concurrent calls for one user,
// from any number of processes sharing the store, are all applied: none
// undoes another's entry.
//
// Package sessiontest checks an implementation against this contract.
type UserIndex interface {
	// AddUserSession records that session id belongs to user, until
	// expires (the session's absolute expiry) at the latest. The
	// Manager calls it before it creates the session, so that no stored
	// session of a user is missing from the index.
	AddUserSession(ctx context.Context, user, id string, expires time.Time) error
	// RemoveUserSession drops id from user's index. Dropping an id the
	// index does not hold is not an error.
	RemoveUserSession(ctx context.Context, user, id string) error
	// UserSessions returns the ids in user's index whose expiry has not
	// passed, in no particular order. It may list sessions that ended
	// otherwise (deleted, or idle too long): the caller checks each.
	UserSessions(ctx context.Context, user string) ([]string, error)
}

// ErrNoUserIndex is returned (wrapped) by the Manager's user-session
// methods when its sessions cannot be listed: with a [CookieCodec],
// where each session lives only in its own cookie, or a [Store] that is
// not a [UserIndex]. A store wrapper may return it from the UserIndex
// methods when the store it wraps is not one.
var ErrNoUserIndex = errors.New("session: this session store keeps no index of users' sessions")

// A UserSession is one of a user's live sessions, as
// [Manager.UserSessions] lists them.
type UserSession struct {
	// Ref names the session among its user's: an opaque string from
	// which neither its token nor its store id can be found (see [Ref]).
	Ref string
	// Record is the session as stored.
	Record Record
	// LastUsed is about when a request last used the session: when it
	// was last saved, which an unchanged session is at most once a
	// minute (see [Manager.Commit]).
	LastUsed time.Time
}

// Ref returns the public name of the session stored under id: a
// truncated SHA-256 of id under a label of its own, base64url. A page
// may show it and post it back (to end that session): it reveals
// neither the session's token nor its id, and names only a session that
// the user's own list holds.
func Ref(id string) string {
	h := sha256.Sum256([]byte("aspengo session ref\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// Ref returns the public name of the session (see [Ref]), or "" when it
// has none: it is not stored yet (new, or renewed in this request), or
// it lives in its cookie.
func (s *Session) Ref() string {
	if !s.stored || s.m.Codec != nil {
		return ""
	}
	return Ref(Hash(s.token))
}

// owner returns the user data is logged in as, or "".
func (m *Manager) owner(data map[string]any) string {
	if m.Owner == nil {
		return ""
	}
	return m.Owner(data)
}

// userIndex returns the Manager's store as a UserIndex.
func (m *Manager) userIndex() (UserIndex, error) {
	if m.Codec != nil || m.Store == nil {
		return nil, ErrNoUserIndex
	}
	ix, ok := m.Store.(UserIndex)
	if !ok {
		return nil, ErrNoUserIndex
	}
	return ix, nil
}

// indexNew records a session about to be created under id with rec in
// its owner's index, if it has an owner and the store keeps an index.
func (m *Manager) indexNew(ctx context.Context, id string, rec Record) error {
	user := m.owner(rec.Data)
	if user == "" {
		return nil
	}
	ix, err := m.userIndex()
	if err != nil {
		return nil // nothing to keep
	}
	if err := ix.AddUserSession(ctx, user, id, rec.AbsoluteExpires); err != nil && !errors.Is(err, ErrNoUserIndex) {
		return fmt.Errorf("session: indexing the session of its user: %w", err)
	}
	return nil
}

// unindex drops a deleted session from its owner's index. Failures are
// ignored: the session is gone, and listing drops what it no longer
// finds.
func (m *Manager) unindex(ctx context.Context, id string, data map[string]any) {
	user := m.owner(data)
	if user == "" {
		return
	}
	if ix, err := m.userIndex(); err == nil {
		_ = ix.RemoveUserSession(ctx, user, id)
	}
}

// UserSessions returns the live sessions logged in as user (see
// [Manager.Owner]), the newest first. It reads the user's index and then
// each session it lists by id, never the whole store, and drops from the
// index what is no longer there. It fails with an error wrapping
// [ErrNoUserIndex] when the sessions cannot be listed (sealed cookies).
func (m *Manager) UserSessions(ctx context.Context, user string) ([]UserSession, error) {
	list, _, err := m.userSessions(ctx, user)
	return list, err
}

// userSessions is UserSessions, with the store id of each session.
func (m *Manager) userSessions(ctx context.Context, user string) ([]UserSession, []string, error) {
	ix, err := m.userIndex()
	if err != nil {
		return nil, nil, err
	}
	ids, err := ix.UserSessions(ctx, user)
	if err != nil {
		return nil, nil, fmt.Errorf("session: listing the sessions of a user: %w", err)
	}
	now := m.now()
	type found struct {
		us UserSession
		id string
	}
	var all []found
	for _, id := range ids {
		rec, ok, err := m.Store.Find(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("session: listing the sessions of a user: %w", err)
		}
		if !ok || m.expired(rec, now) || m.owner(rec.Data) != user {
			_ = ix.RemoveUserSession(ctx, user, id) // gone for good: keep the index short
			continue
		}
		last := rec.IdleExpires.Add(-m.idle(rec.Data))
		if last.Before(rec.Created) {
			last = rec.Created
		}
		if last.After(now) {
			last = now
		}
		all = append(all, found{UserSession{Ref: Ref(id), Record: rec, LastUsed: last}, id})
	}
	slices.SortFunc(all, func(a, b found) int {
		return cmp.Or(b.us.Record.Created.Compare(a.us.Record.Created), cmp.Compare(a.us.Ref, b.us.Ref))
	})
	list, idList := make([]UserSession, len(all)), make([]string, len(all))
	for i, f := range all {
		list[i], idList[i] = f.us, f.id
	}
	return list, idList, nil
}

// EndUserSession ends the session named ref (see [Ref]) among user's
// live sessions, as a logout would, and reports whether there was one:
// a ref that names no session of user's (another user's included) ends
// nothing.
func (m *Manager) EndUserSession(ctx context.Context, user, ref string) (bool, error) {
	n, err := m.endUserSessions(ctx, user, func(r string) bool { return r == ref })
	return n > 0, err
}

// EndUserSessions ends every live session of user except the one named
// keep (see [Ref]; "" keeps none), and returns how many it ended.
func (m *Manager) EndUserSessions(ctx context.Context, user, keep string) (int, error) {
	return m.endUserSessions(ctx, user, func(r string) bool { return r != keep })
}

func (m *Manager) endUserSessions(ctx context.Context, user string, end func(ref string) bool) (int, error) {
	list, ids, err := m.userSessions(ctx, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, us := range list {
		if !end(us.Ref) {
			continue
		}
		if err := m.Store.Delete(ctx, ids[i]); err != nil {
			return n, fmt.Errorf("session: ending a session of a user: %w", err)
		}
		m.unindex(ctx, ids[i], us.Record.Data)
		n++
	}
	return n, nil
}
