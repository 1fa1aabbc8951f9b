package session

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

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
