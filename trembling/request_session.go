package trembling

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/session"
)

// ErrNoSession is returned by [SessionOf] for a request that the hook
// trembling.session:inbound has not run for.
var ErrNoSession = errors.New("trembling: no session: add the hook " + HookInbound + " to hooks.conf")

// sessionKey is the key of a request's *lazySession among its Go values.
type sessionKey struct{}

// lazySession is what the inbound hook leaves in a request: the means to
// load its session, and the session once something asked for it.
type lazySession struct {
	site   *site
	loaded *Session
	err    error
}

// Session is the session of one request, as Go code sees it. Its data is
// request.session, the Starlark value pages use: Get, Set, Delete and
// Clear read and write it, so that Go and Starlark code share one copy,
// which the outbound hook saves. A Session belongs to its request and is
// not safe for concurrent use.
type Session struct {
	site      *site
	sess      *session.Session
	dict      *sessionDict
	msgs      *messageList
	login     map[string]any // the login, under loginKey, out of request.session's reach (user.go)
	hadRecord bool           // the request came with a stored session
	hadLogin  bool           // the request came logged in
	destroyed bool           // Destroy ran (a logout)
	committed bool
}

// SessionOf returns the session of r, loading it from the store the first
// time it is asked for in the request; it returns ErrNoSession when the
// hook trembling.session:inbound did not run for r, and a *[StoreError]
// when the store fails (kept, so that later calls do not wait again).
func SessionOf(r *aspengo.Request) (*Session, error) {
	l, ok := r.Value(sessionKey{}).(*lazySession)
	if !ok {
		return nil, ErrNoSession
	}
	if l.loaded == nil && l.err == nil {
		l.loaded, l.err = l.load(r)
	}
	return l.loaded, l.err
}

// load reads the session of r from the store.
func (l *lazySession) load(r *aspengo.Request) (*Session, error) {
	sess, err := l.site.mgr.Load(r.Context(), r.Request)
	if err != nil {
		return nil, err
	}
	return newSession(l.site, sess)
}

// Get returns a copy of the value stored under key, as a Go value
// (string, int64, float64, bool, nil, []any, map[string]any). A value
// that Starlark code made unstorable (see the package documentation) is
// reported as absent.
func (s *Session) Get(key string) (any, bool) {
	v, found, _ := s.dict.d.Get(starlark.String(key))
	if !found {
		return nil, false
	}
	g, err := fromStarlark(key, v)
	if err != nil {
		return nil, false
	}
	return g, true
}

// Set stores v under key; request.session[key] shows it at once. v must
// be a value [session.CheckValue] accepts; it is copied. The reserved keys
// "_messages" and "_auth" (the login) are refused.
func (s *Session) Set(key string, v any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := session.CheckValue(key, v); err != nil {
		return err
	}
	sv, err := toStarlark(v, 0)
	if err != nil {
		return fmt.Errorf("trembling: session key %q: %w", key, err)
	}
	return s.dict.d.SetKey(starlark.String(key), sv)
}

// Delete removes key.
func (s *Session) Delete(key string) error {
	_, _, err := s.dict.d.Delete(starlark.String(key))
	return err
}

// Clear removes every key. Waiting messages and the login stay (logout
// ends a login).
func (s *Session) Clear() error {
	return s.dict.d.Clear()
}

// Keys returns the session's keys, in the order of request.session.
func (s *Session) Keys() []string {
	keys := make([]string, 0, s.dict.d.Len())
	for _, k := range s.dict.d.Keys() {
		keys = append(keys, string(k.(starlark.String)))
	}
	return keys
}

// Len returns the number of keys.
func (s *Session) Len() int { return s.dict.d.Len() }

// IsNew reports whether the session has no saved record: it is new, or
// was destroyed or renewed in this request.
func (s *Session) IsNew() bool { return s.sess.IsNew() }

// Created returns when the session was first saved or last renewed, or
// the zero time for a new session.
func (s *Session) Created() time.Time { return s.sess.Created() }

// Ref returns the opaque name of the stored session (see [session.Ref]),
// "" when it is not stored or lives in its cookie.
func (s *Session) Ref() string { return s.sess.Ref() }

// RenewToken gives the session a new token and keeps its data, as a login
// does against session fixation (see [session.Session.RenewToken]). The
// old record is deleted at once; a store failure is a [*StoreError].
func (s *Session) RenewToken(ctx context.Context) error {
	return s.sess.RenewToken(ctx)
}

// Destroy ends the session, as a logout does (see
// [session.Session.Destroy]): its record is deleted at once, its data is
// cleared, here and in request.session, and the response expires the
// cookie unless the request stores something new, which goes to a new
// session. Waiting messages stay. A store failure is a [*StoreError].
func (s *Session) Destroy(ctx context.Context) error {
	// Clear request.session first: it fails while Starlark code iterates
	// over it, and then the stored session must stay as it is.
	if err := s.dict.d.Clear(); err != nil {
		return err
	}
	s.login = nil
	if err := s.sess.Destroy(ctx); err != nil {
		return err
	}
	// The waiting messages go to the new session, if there is one.
	for i := range s.msgs.list {
		s.msgs.list[i].stored = false
	}
	s.msgs.consumed = nil
	s.destroyed = true
	return nil
}

// Starlark returns request.session, the Starlark value of the session.
func (s *Session) Starlark() starlark.Value { return s.dict }

// Messages returns the messages waiting to be displayed, oldest first.
func (s *Session) Messages() []Message {
	return s.msgs.messages()
}

// AddMessage adds a message for the visitor, shown on the next page
// displayed (this one, if it is a page that shows messages). level is one
// of debug, info, success, warning and error; "" means info.
func (s *Session) AddMessage(text, level string) error {
	return s.msgs.add(text, level)
}

// inbound is the hook trembling.session:inbound: it makes request.session
// and request.messages lazy, so that the session is loaded only when a
// page, a template or a hook uses it (see [SessionOf]). A request that
// never does costs no store call.
func (t *Trembling) inbound(r *aspengo.Request) error {
	st := t.site(r.Website)
	if st == nil {
		return errors.New("trembling: sessions are not set up for this website (Website.Start has not run)")
	}
	r.SetValue(sessionKey{}, &lazySession{site: st})
	r.SetLazyAttr("session", func() (starlark.Value, error) {
		s, err := SessionOf(r)
		if err != nil {
			return nil, err
		}
		return s.dict, nil
	})
	r.SetLazyAttr("messages", func() (starlark.Value, error) {
		s, err := SessionOf(r)
		if err != nil {
			return nil, err
		}
		return s.msgs, nil
	})
	return nil
}

// newSession makes the Go and Starlark view of a loaded session: the
// waiting messages and the seed's "messages" key go to the message list,
// every other key to request.session.
func newSession(st *site, sess *session.Session) (*Session, error) {
	data := sess.Data()
	s := &Session{site: st, sess: sess, msgs: &messageList{}, hadRecord: !sess.IsNew()}
	if v, ok := data[messagesKey]; ok {
		s.msgs.list = parseStored(v)
	}
	if v, ok := data[seedKey]; ok {
		s.msgs.appendSeed(v)
		delete(data, seedKey)
		// Stored as such, so that it is taken from the session with the
		// same care as the other messages.
		for _, m := range s.msgs.added() {
			if err := sess.Push(messagesKey, m.raw); err != nil {
				return nil, err
			}
		}
		s.msgs.markStored()
	}
	s.login, _ = data[loginKey].(map[string]any)
	s.hadLogin = s.login != nil
	d, err := dictFromData(data)
	if err != nil {
		return nil, err
	}
	s.dict = &sessionDict{d: d}
	return s, nil
}

// outbound is the hook trembling.session:outbound: it turns
// request.session back into session data and commits it. It runs once
// per request, even when listed in both outbound sections.
func (t *Trembling) outbound(r *aspengo.Request) error {
	l, ok := r.Value(sessionKey{}).(*lazySession)
	if !ok {
		return nil // the inbound hook did not run
	}
	if l.loaded == nil {
		// No one used the session: nothing to save. A visitor who came
		// with a cookie may still see a page made for them (by a hook, or
		// from a cache keyed on nothing else): keep it out of shared
		// caches, as below. This costs no store call.
		if l.site.mgr.HasCookie(r.Request) && r.Response.Code < 500 {
			session.MarkPrivate(r.Response.Header)
		}
		return nil
	}
	s := l.loaded
	if s.committed {
		return nil
	}
	s.committed = true
	resp := r.Response
	if resp.Code >= 500 {
		return nil // no save on a server error
	}
	if displaysPage(r) {
		s.msgs.dropShown()
	}
	if err := s.sync(); err != nil {
		return err
	}
	if !s.sess.IsNew() {
		// The visitor came with a session, so the page may show what is
		// in it (their name, their list): keep it out of shared caches
		// even when no cookie is set.
		session.MarkPrivate(resp.Header)
	}
	if err := s.site.mgr.Commit(r.Context(), resp.Header, s.sess, resp.Code); err != nil {
		return err
	}
	if s.login != nil || s.hadLogin {
		// A page for a logged-in user (or their logout) is kept by no
		// cache, the browser's included, so that after a logout the back
		// button does not show it.
		session.MarkNoStore(resp.Header)
	}
	return nil
}

// sync replaces the session's data with request.session and the login,
// and sends the messages added and consumed as such (pushed and pulled),
// so that messages of concurrent requests merge.
func (s *Session) sync() error {
	fresh := make(map[string]any, s.dict.d.Len()+1)
	for k, v := range s.dict.d.Entries() {
		key := string(k.(starlark.String))
		g, err := fromStarlark(key, v)
		if err != nil {
			return fmt.Errorf("trembling: saving the session: %w", err)
		}
		fresh[key] = g
	}
	if s.login != nil {
		fresh[loginKey] = s.login
	}
	data := s.sess.Data()
	for k := range data {
		if _, ok := fresh[k]; !ok && k != messagesKey {
			delete(data, k)
		}
	}
	for k, v := range fresh {
		data[k] = v
	}
	for _, m := range s.msgs.consumed {
		if err := s.sess.Pull(messagesKey, m.raw); err != nil {
			return fmt.Errorf("trembling: saving the session: %w", err)
		}
	}
	s.msgs.consumed = nil
	// A logout of a visitor who came without a session makes none just
	// to say "you are logged out": anyone may post to a logout page, and
	// each such post would otherwise create a stored session.
	if s.destroyed && !s.hadRecord && len(fresh) == 0 {
		return nil
	}
	for _, m := range s.msgs.added() {
		if err := s.sess.Push(messagesKey, m.raw); err != nil {
			return fmt.Errorf("trembling: saving the session: %w", err)
		}
	}
	s.msgs.markStored()
	return nil
}

// displaysPage reports whether the response shows a page to the visitor:
// a 2xx HTML response to a method other than HEAD.
func displaysPage(r *aspengo.Request) bool {
	resp := r.Response
	if resp.Code < 200 || resp.Code > 299 || r.Method == http.MethodHead {
		return false
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}
