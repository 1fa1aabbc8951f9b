package session

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults of a [Manager].
const (
	DefaultIdleTimeout = 24 * time.Hour
	DefaultLifetime    = 14 * 24 * time.Hour
	DefaultCookieName  = "session_key"

	// DefaultLoginIdleTimeout and DefaultLoginLifetime are the limits of
	// a logged-in session (see [Manager.LoggedIn]): 30 minutes unused, 12
	// hours since the login, as OWASP ASVS level 2 asks.
	DefaultLoginIdleTimeout = 30 * time.Minute
	DefaultLoginLifetime    = 12 * time.Hour
)

// refreshEvery is how often, at most, a session that did not change is
// written again to move its idle expiry.
const refreshEvery = time.Minute

// A Manager loads sessions from requests and commits them to responses.
// Set its fields before first use; after that it is read-only and safe
// for concurrent use.
type Manager struct {
	// Store keeps sessions on the server. Exactly one of Store and Codec
	// must be set.
	Store Store
	// Codec keeps each session sealed in its cookie instead (see
	// [CookieCodec]); when set, Store is not used.
	Codec CookieCodec

	// IdleTimeout ends a session that goes unused this long; 0 means
	// DefaultIdleTimeout (24 hours).
	IdleTimeout time.Duration
	// Lifetime ends a session this long after it was created, however
	// much it is used; 0 means DefaultLifetime (14 days).
	Lifetime time.Duration

	// LoggedIn reports whether a session's data is that of a logged-in
	// user; such a session gets LoginIdleTimeout and LoginLifetime
	// instead. nil means no session is logged in. Since a login renews
	// the session's token (see [Session.RenewToken]), the session's
	// creation time is the login's, and LoginLifetime counts from it.
	LoggedIn func(data map[string]any) bool
	// LoginIdleTimeout ends a logged-in session that goes unused this
	// long; 0 means DefaultLoginIdleTimeout (30 minutes).
	LoginIdleTimeout time.Duration
	// LoginLifetime ends a logged-in session this long after it was
	// created; 0 means DefaultLoginLifetime (12 hours).
	LoginLifetime time.Duration

	// Owner returns the user a session's data is logged in as, "" for
	// none; nil means no session has one. When the Store is a
	// [UserIndex], a session with an owner is recorded in its owner's
	// index when it is created, so that [Manager.UserSessions] lists it.
	// A session's owner must not change while it is stored: a login
	// renews the token ([Session.RenewToken]), which makes a new session.
	Owner func(data map[string]any) string

	// Cookie configures the session cookie.
	Cookie Cookie

	// MaxSize limits a session's data, in bytes of its canonical JSON
	// encoding: a Commit that would store more fails with an error
	// wrapping ErrTooLarge and writes nothing. 0 means DefaultMaxSize
	// (64 KiB); a negative value means no limit.
	MaxSize int

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (m *Manager) maxSize() int {
	switch {
	case m.MaxSize == 0:
		return DefaultMaxSize
	case m.MaxSize < 0:
		return 0
	}
	return m.MaxSize
}

func (m *Manager) now() time.Time {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	return now().Truncate(time.Millisecond)
}

func (m *Manager) loggedIn(data map[string]any) bool {
	return m.LoggedIn != nil && m.LoggedIn(data)
}

// idle returns the idle timeout of a session holding data.
func (m *Manager) idle(data map[string]any) time.Duration {
	if m.loggedIn(data) {
		return cmp.Or(max(m.LoginIdleTimeout, 0), DefaultLoginIdleTimeout)
	}
	return cmp.Or(max(m.IdleTimeout, 0), DefaultIdleTimeout)
}

// lifetime returns the lifetime of a session holding data.
func (m *Manager) lifetime(data map[string]any) time.Duration {
	if m.loggedIn(data) {
		return cmp.Or(max(m.LoginLifetime, 0), DefaultLoginLifetime)
	}
	return cmp.Or(max(m.Lifetime, 0), DefaultLifetime)
}

// errNoBackend is returned when a Manager has neither Store nor Codec.
var errNoBackend = errors.New("session: Manager has neither a Store nor a Codec")

// Load returns the session of request r. A cookie that is missing,
// malformed, unknown or expired gives a new empty session; no store is
// written and no token is made until Commit has something to save. An
// error means the store failed.
func (m *Manager) Load(ctx context.Context, r *http.Request) (*Session, error) {
	if m.Store == nil && m.Codec == nil {
		return nil, errNoBackend
	}
	s := &Session{m: m, rec: Record{Data: map[string]any{}}, secure: m.Cookie.SecureFor(r)}
	c, err := r.Cookie(m.Cookie.name(s.secure))
	if err != nil {
		return s, nil // no cookie
	}
	var rec Record
	if m.Codec != nil {
		var ok bool
		if rec, ok = m.Codec.Open(c.Value); !ok {
			return s, nil
		}
	} else {
		tok, err := ParseToken(c.Value)
		if err != nil {
			return s, nil
		}
		var found bool
		rec, found, err = m.Store.Find(ctx, Hash(tok))
		if err != nil {
			return nil, fmt.Errorf("session: loading session: %w", err)
		}
		if !found {
			return s, nil
		}
		s.token = tok
	}
	if m.expired(rec, m.now()) {
		s.token = Token{}
		return s, nil
	}
	if rec.Data == nil {
		rec.Data = map[string]any{}
	}
	base, err := encodeKeys(rec.Data)
	if err != nil {
		return nil, fmt.Errorf("session: loading session: %w", err)
	}
	s.rec, s.base, s.stored = rec, base, true
	return s, nil
}

// encodeKeys returns the canonical encoding of each key's value.
func encodeKeys(data map[string]any) (map[string][]byte, error) {
	base := make(map[string][]byte, len(data))
	for k, v := range data {
		enc, err := encodeValue(k, v)
		if err != nil {
			return nil, err
		}
		base[k] = enc
	}
	return base, nil
}

// change returns what this request did to the session's data since it
// was loaded or last saved: the keys whose canonical encoding changed,
// at any depth, and the items pushed and pulled.
func (s *Session) change() (Change, error) {
	var c Change
	for k, v := range s.rec.Data {
		if _, ok := s.push[k]; ok {
			continue
		}
		if _, ok := s.pull[k]; ok {
			continue
		}
		enc, err := encodeValue(k, v)
		if err != nil {
			return Change{}, err
		}
		if old, ok := s.base[k]; !ok || !bytes.Equal(old, enc) {
			if c.Set == nil {
				c.Set = map[string]any{}
			}
			c.Set[k] = v
		}
	}
	for k := range s.base {
		_, pushed := s.push[k]
		_, pulled := s.pull[k]
		if _, ok := s.rec.Data[k]; !ok && !pushed && !pulled {
			c.Unset = append(c.Unset, k)
		}
	}
	for k, items := range s.push {
		if len(items) > 0 {
			if c.Push == nil {
				c.Push = map[string][]any{}
			}
			c.Push[k] = items
		}
	}
	for k, items := range s.pull {
		if len(items) > 0 {
			if c.Pull == nil {
				c.Pull = map[string][]any{}
			}
			c.Pull[k] = items
		}
	}
	return c, nil
}

// expired applies the Manager's Lifetime on top of the record's own
// expiries, so that shortening Lifetime takes effect at once. (A shorter
// IdleTimeout applies from each session's next save: comparing stored
// idle expiries with this process's clock would end sessions saved by a
// process whose clock runs a little ahead.)
func (m *Manager) expired(rec Record, now time.Time) bool {
	return rec.Expired(now) || !now.Before(rec.Created.Add(m.lifetime(rec.Data)))
}

// refreshDue reports whether a session that did not change should be
// written to move its idle expiry: at most once a minute (or once per
// half idle timeout when that is shorter), and never once the idle expiry
// has reached the absolute one.
func (m *Manager) refreshDue(rec Record, now time.Time) bool {
	if !rec.IdleExpires.Before(rec.AbsoluteExpires) {
		return false
	}
	idle := m.idle(rec.Data)
	every := min(refreshEvery, idle/2)
	lastSaved := rec.IdleExpires.Add(-idle)
	return now.Sub(lastSaved) >= every
}

// Commit saves session s, if it must be saved, and sets the cookie in
// header h of the response, whose status is status.
//
//   - status >= 500: nothing is saved and no cookie is set.
//   - A new session that is empty is not saved; if it replaced a
//     destroyed or renewed one, the old cookie is expired.
//   - A new session with data is created under a new token.
//   - A stored session that became empty is deleted and its cookie
//     expired.
//   - A stored session is updated when its data changed or its idle
//     expiry is due for refreshing: with a Store, only what this request
//     changed is sent (see [Change]), and merged into the latest stored
//     version. If the record was deleted or expired meanwhile, nothing
//     is saved and no cookie is set (see the package doc).
//
// Every response that sets the cookie also gets "Vary: Cookie" and
// "Cache-Control: private". A value [CheckValue] refuses, data over the
// size limit (see [Manager.MaxSize]), or a sealed cookie over
// [MaxCookieSize], is an error and saves nothing.
func (m *Manager) Commit(ctx context.Context, h http.Header, s *Session, status int) error {
	if status >= 500 {
		return nil
	}
	now := m.now()
	switch {
	case !s.stored && len(s.rec.Data) == 0:
		if s.expire {
			m.expireCookie(h, s)
			s.expire = false
		}
		return nil

	case !s.stored:
		if err := CheckSize(s.rec.Data, m.maxSize()); err != nil {
			return err
		}
		base, err := encodeKeys(s.rec.Data)
		if err != nil {
			return err
		}
		rec := Record{
			Data:            s.rec.Data,
			Created:         now,
			AbsoluteExpires: now.Add(m.lifetime(s.rec.Data)),
		}
		rec.IdleExpires = earlier(now.Add(m.idle(s.rec.Data)), rec.AbsoluteExpires)
		var value string
		if m.Codec != nil {
			if value, err = m.seal(s, rec); err != nil {
				return err
			}
		} else {
			tok, err := NewToken()
			if err != nil {
				return err
			}
			value = tok.String()
			if err := m.checkSize(s, value); err != nil {
				return err
			}
			if err := m.indexNew(ctx, Hash(tok), rec); err != nil {
				return err
			}
			if err := m.Store.Create(ctx, Hash(tok), rec); err != nil {
				return fmt.Errorf("session: saving new session: %w", err)
			}
			s.token = tok
		}
		s.rec, s.base, s.stored, s.expire = rec, base, true, false
		s.push, s.pull = nil, nil
		return m.setCookie(h, s, value, now)

	case len(s.rec.Data) == 0:
		if m.Codec == nil {
			if err := m.Store.Delete(ctx, Hash(s.token)); err != nil {
				return fmt.Errorf("session: deleting empty session: %w", err)
			}
		}
		s.stored, s.token, s.base = false, Token{}, nil
		s.push, s.pull = nil, nil
		m.expireCookie(h, s)
		return nil
	}

	c, err := s.change()
	if err != nil {
		return err
	}
	if c.IsZero() && !m.refreshDue(s.rec, now) {
		return nil
	}
	if err := CheckSize(s.rec.Data, m.maxSize()); err != nil {
		return err
	}
	c.IdleExpires = now.Add(m.idle(s.rec.Data))
	c.MaxSize = m.maxSize()
	var (
		rec   Record
		value string
	)
	if m.Codec != nil {
		// The whole session is in the cookie: there is nothing to merge
		// with.
		rec = s.rec
		rec.IdleExpires = earlier(c.IdleExpires, rec.AbsoluteExpires)
		if value, err = m.seal(s, rec); err != nil {
			return err
		}
	} else {
		var ok bool
		rec, ok, err = m.Store.Update(ctx, Hash(s.token), c)
		if err != nil {
			return fmt.Errorf("session: saving session: %w", err)
		}
		if !ok {
			// Deleted or expired meanwhile: drop this request's changes,
			// leave the client's cookie alone.
			s.stored, s.token, s.base = false, Token{}, nil
			s.push, s.pull = nil, nil
			return nil
		}
		value = s.token.String()
	}
	base, err := encodeKeys(rec.Data)
	if err != nil {
		return err
	}
	s.rec, s.base = rec, base
	s.push, s.pull = nil, nil
	return m.setCookie(h, s, value, now)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
