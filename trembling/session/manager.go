package session

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
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

// Cookie configures the session cookie. It is always HttpOnly.
//
// The cookie is Secure unless the request is plain HTTP to a loopback
// host (see [Cookie.SecureFor]), so that a site behind a TLS-terminating
// proxy gets Secure cookies and http://127.0.0.1 in development still
// works. A Secure cookie whose Path is "/" and Domain empty is named with
// the "__Host-" prefix ("__Host-session_key"), which tells browsers to
// refuse it from plain HTTP pages and from other subdomains. A request is
// read under the name its response would set, so a session is found by
// the requests that made it.
type Cookie struct {
	// Name is the cookie's name; "" means DefaultCookieName, "session_key".
	// A Secure cookie gets the "__Host-" prefix (see above) unless the
	// name already starts with "__Host-" or "__Secure-".
	Name string
	// Path is the cookie's path; "" means "/".
	Path string
	// Domain is the cookie's domain; "" means the request's host only.
	Domain string
	// Secure marks every cookie Secure, loopback hosts included.
	Secure bool
	// Insecure never marks a cookie Secure unless the request came over
	// TLS (a site served over plain HTTP on a LAN name); Secure wins.
	Insecure bool
	// SameSite is the cookie's SameSite mode; 0 means http.SameSiteLaxMode.
	SameSite http.SameSite
	// SessionOnly leaves out Expires and Max-Age, so that the browser
	// drops the cookie when it closes. The server enforces the expiries
	// either way.
	SessionOnly bool
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

// SecureFor reports whether a cookie set in answer to r is Secure: with
// c.Secure; when r came over TLS; when a proxy says it did
// (X-Forwarded-Proto: https), since a client that lies only makes its own
// cookie Secure; and, unless c.Insecure, when r's host is not a loopback
// name or address (localhost, *.localhost, 127.0.0.0/8, ::1).
func (c Cookie) SecureFor(r *http.Request) bool {
	switch {
	case c.Secure, r.TLS != nil:
		return true
	case strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"):
		return true
	case c.Insecure:
		return false
	}
	return !IsLoopbackHost(r.Host)
}

// IsLoopbackHost reports whether host, with or without a port, is a
// loopback name or address: localhost, a name under .localhost,
// 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if strings.EqualFold(host, "localhost") || len(host) > len(".localhost") && strings.EqualFold(host[len(host)-len(".localhost"):], ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// name returns the cookie's name, for a Secure cookie when secure.
func (c Cookie) name(secure bool) string {
	name := cmp.Or(c.Name, DefaultCookieName)
	if secure && cmp.Or(c.Path, "/") == "/" && c.Domain == "" &&
		!strings.HasPrefix(name, "__Host-") && !strings.HasPrefix(name, "__Secure-") {
		name = "__Host-" + name
	}
	return name
}

// CookieName returns the name of the session cookie that r is read under
// and its response is given.
func (m *Manager) CookieName(r *http.Request) string {
	return m.Cookie.name(m.Cookie.SecureFor(r))
}

// HasCookie reports whether r carries a session cookie, valid or not,
// without loading anything.
func (m *Manager) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(m.CookieName(r))
	return err == nil
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

func (m *Manager) seal(s *Session, rec Record) (string, error) {
	value, err := m.Codec.Seal(rec)
	if err != nil {
		return "", fmt.Errorf("session: sealing session: %w", err)
	}
	if err := m.checkSize(s, value); err != nil {
		return "", err
	}
	return value, nil
}

func (m *Manager) checkSize(s *Session, value string) error {
	if n := len(m.Cookie.name(s.secure)) + 1 + len(value); n > MaxCookieSize {
		return fmt.Errorf("session: the session cookie would be %d bytes, over the %d-byte limit; store less in the session: %w",
			n, MaxCookieSize, ErrCookieTooLarge)
	}
	return nil
}

func (m *Manager) cookie(s *Session, value string) *http.Cookie {
	sameSite := m.Cookie.SameSite
	if sameSite == 0 {
		sameSite = http.SameSiteLaxMode
	}
	path := m.Cookie.Path
	if path == "" {
		path = "/"
	}
	return &http.Cookie{
		Name:     m.Cookie.name(s.secure),
		Value:    value,
		Path:     path,
		Domain:   m.Cookie.Domain,
		Secure:   s.secure,
		HttpOnly: true,
		SameSite: sameSite,
	}
}

func (m *Manager) setCookie(h http.Header, s *Session, value string, now time.Time) error {
	c := m.cookie(s, value)
	if !m.Cookie.SessionOnly {
		exp := s.rec.Expires()
		c.Expires = exp.UTC()
		c.MaxAge = max(1, int(exp.Sub(now)/time.Second))
	}
	return m.writeCookie(h, c)
}

func (m *Manager) expireCookie(h http.Header, s *Session) {
	c := m.cookie(s, "")
	c.MaxAge = -1
	c.Expires = time.Unix(0, 0)
	_ = m.writeCookie(h, c) // an empty value always makes a valid cookie
}

// writeCookie replaces any Set-Cookie for the session cookie in h and
// marks the response private.
func (m *Manager) writeCookie(h http.Header, c *http.Cookie) error {
	line := c.String()
	if line == "" {
		return fmt.Errorf("session: invalid cookie settings (name %q, path %q, domain %q)", c.Name, c.Path, c.Domain)
	}
	prefix := c.Name + "="
	h["Set-Cookie"] = slices.DeleteFunc(h["Set-Cookie"], func(v string) bool {
		return strings.HasPrefix(v, prefix)
	})
	h.Add("Set-Cookie", line)
	MarkPrivate(h)
	return nil
}

// MarkPrivate marks a response that depends on the visitor's session:
// "Vary: Cookie" and "Cache-Control: private" (without "public"), so that
// no shared cache gives it to another visitor.
func MarkPrivate(h http.Header) {
	if !hasToken(h.Values("Vary"), "cookie") && !hasToken(h.Values("Vary"), "*") {
		h.Add("Vary", "Cookie")
	}
	h.Set("Cache-Control", private(h.Values("Cache-Control")))
}

// MarkNoStore marks a response that must not be kept by any cache, the
// browser's included (a page for a logged-in user): "Vary: Cookie" and
// "Cache-Control: no-store", replacing the directives that would let a
// cache keep it.
func MarkNoStore(h http.Header) {
	MarkPrivate(h)
	out := []string{"no-store"}
	for _, v := range h.Values("Cache-Control") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			d, _, _ := strings.Cut(part, "=")
			switch strings.ToLower(d) {
			case "", "public", "private", "no-store", "max-age", "s-maxage", "immutable", "stale-while-revalidate", "stale-if-error":
				continue
			}
			out = append(out, part)
		}
	}
	h.Set("Cache-Control", strings.Join(out, ", "))
}

// hasToken reports whether the comma-separated header values contain tok,
// compared without case.
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), tok) {
				return true
			}
		}
	}
	return false
}

// private returns the Cache-Control directives of values with "public"
// removed and "private" added, unless they already say "private" or
// "no-store".
func private(values []string) string {
	out := []string{"private"}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			d, _, _ := strings.Cut(part, "=")
			switch strings.ToLower(d) {
			case "", "public":
				continue
			case "private", "no-store":
				out[0] = ""
			}
			out = append(out, part)
		}
	}
	if out[0] == "" {
		out = out[1:]
	}
	return strings.Join(out, ", ")
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
