package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// indexExpiry is the expiry of every version of a user's index.
var indexExpiry = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)

// indexPrefix starts the _id of every user's index.
const indexPrefix = "u"

// indexID returns the _id of the head of user's index.
func indexID(user string) string {
	h := sha256.Sum256([]byte(user))
	return indexPrefix + hex.EncodeToString(h[:])
}

// isIndex reports whether sid, the _id of a chain's head, is a user's
// index.
func isIndex(sid string) bool {
	return len(sid) == 1+2*sha256.Size && strings.HasPrefix(sid, indexPrefix)
}

var _ session.UserIndex = (*Store)(nil)

// AddUserSession records session id in user's index, with its expiry,
// and drops the entries whose expiry has passed.
func (s *Store) AddUserSession(ctx context.Context, user, id string, expires time.Time) error {
	if !validID(id) {
		return fmt.Errorf("mongostore: indexing session %q: not a session id", id)
	}
	hid := indexID(user)
	c := session.Change{Set: map[string]any{id: expires.UnixMilli()}}
	// The expired entries of the version read now: entries only expire,
	// so dropping them from a later version is right too.
	st, found, err := s.latest(ctx, hid)
	if err != nil {
		return fmt.Errorf("mongostore: indexing session: %w", err)
	}
	if found {
		now := s.now().UnixMilli()
		for k, v := range st.rec.Data {
			if ms, ok := v.(int64); !ok || ms <= now {
				c.Unset = append(c.Unset, k)
			}
		}
	}
	for range maxRetries {
		if found {
			_, ok, err := s.update(ctx, hid, c)
			if err != nil {
				return fmt.Errorf("mongostore: indexing session: %w", err)
			}
			if ok {
				return nil
			}
		}
		// No index yet: make it. If another login made it first, add to
		// theirs.
		rec := session.Record{Data: c.Set, Created: s.now(), IdleExpires: indexExpiry, AbsoluteExpires: indexExpiry}
		err := s.Create(ctx, hid, rec)
		if err == nil {
			return nil
		}
		if !errors.Is(err, session.ErrExists) {
			return fmt.Errorf("mongostore: indexing session: %w", err)
		}
		found = true
	}
	return fmt.Errorf("mongostore: indexing session: lost the race %d times", maxRetries)
}

// RemoveUserSession drops id from user's index.
func (s *Store) RemoveUserSession(ctx context.Context, user, id string) error {
	if _, _, err := s.update(ctx, indexID(user), session.Change{Unset: []string{id}}); err != nil {
		return fmt.Errorf("mongostore: dropping a session from its user's index: %w", err)
	}
	return nil
}

// UserSessions returns the ids in user's index whose expiry has not
// passed: one read of the index's head and the probe for a later
// version, both by _id (none while the cache knows the latest version).
func (s *Store) UserSessions(ctx context.Context, user string) ([]string, error) {
	st, found, err := s.latest(ctx, indexID(user))
	if err != nil {
		return nil, fmt.Errorf("mongostore: listing the sessions of a user: %w", err)
	}
	if !found || st.deleted {
		return nil, nil
	}
	now := s.now().UnixMilli()
	var ids []string
	for k, v := range st.rec.Data {
		if ms, ok := v.(int64); ok && ms > now {
			ids = append(ids, k)
		}
	}
	return ids, nil
}
