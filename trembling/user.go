package trembling

import (
	"errors"
	"fmt"
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/simplate"
	"github.com/aspengo/aspengo/trembling/auth"
)

// loginKey is the reserved session key that holds the login:
// {"username": ..., "fingerprint": auth.Fingerprint(user)}. request.session
// neither shows it nor lets a page set it, so no page can log a visitor in
// by writing to the session; only login() writes it.
const loginKey = "_auth"

// Fields of the login stored under loginKey.
const (
	loginUser        = "username"
	loginFingerprint = "fingerprint"
	loginAt          = "at"     // when the user gave their password: Unix milliseconds
	loginClient      = "client" // the browser and system, from the User-Agent
	loginAddr        = "addr"   // the client's address
)

// the request's user

// authValueKey is the key of a request's *requestAuth among its Go values.
type authValueKey struct{}

// requestAuth is who the request is authenticated as, found on first use.
type requestAuth struct {
	load   func() (*auth.User, error) // reads the login and its account; nil once done
	user   *auth.User                 // nil when anonymous
	err    error                      // why the user could not be read
	loaded bool
}

// get returns the request's user, reading it on the first call.
func (ra *requestAuth) get() (*auth.User, error) {
	if !ra.loaded {
		ra.user, ra.err = ra.load()
		ra.loaded, ra.load = true, nil
	}
	return ra.user, ra.err
}

// UserOf returns the account the request r is logged in as, reading it
// if nothing has yet (see [LoadUser]), and false when r is anonymous,
// when the hook trembling.auth:inbound did not run, or when the account
// could not be read.
func UserOf(r *aspengo.Request) (auth.User, bool) {
	u, ok, _ := LoadUser(r)
	return u, ok
}

// LoadUser returns the account the request r is logged in as: the one a
// login during the request gave, or the one its session names, read on
// the first call (of LoadUser, UserOf, request.user or
// request.authenticated) and kept for the rest of the request. ok is
// false when r is anonymous or the hook trembling.auth:inbound did not
// run; err says why the account could not be read (the database is
// unavailable: an error with HTTPStatus 503).
func LoadUser(r *aspengo.Request) (u auth.User, ok bool, err error) {
	ra, found := r.Value(authValueKey{}).(*requestAuth)
	if !found {
		return auth.User{}, false, nil
	}
	user, err := ra.get()
	if err != nil || user == nil {
		return auth.User{}, false, err
	}
	return *user, true, nil
}

// setUser makes r authenticated as u, or anonymous when u is nil:
// request.user and request.authenticated.
func setUser(r *aspengo.Request, u *auth.User) {
	r.SetValue(authValueKey{}, &requestAuth{user: u, loaded: true})
	if u == nil {
		r.SetAttr("user", starlark.None)
		r.SetAttr("authenticated", starlark.False)
		return
	}
	r.SetAttr("user", userValue{u: *u})
	r.SetAttr("authenticated", starlark.True)
}

// setLoginError sets request.login_error.
func setLoginError(r *aspengo.Request, reason string) {
	r.SetAttr("login_error", starlark.String(reason))
}

// loggedIn returns the login stored in the session.
func (s *Session) loggedIn() (username, fingerprint string, ok bool) {
	username, _ = s.login[loginUser].(string)
	fingerprint, _ = s.login[loginFingerprint].(string)
	return username, fingerprint, username != ""
}

// hasLogin reports whether session data holds a login: the session
// manager gives such a session the shorter limits of a logged-in one.
func hasLogin(data map[string]any) bool {
	login, _ := data[loginKey].(map[string]any)
	username, _ := login[loginUser].(string)
	return username != ""
}

// loginOwner returns the canonical username of the login that session
// data holds, or "": the session manager lists a session under it (see
// user_sessions).
func loginOwner(data map[string]any) string {
	login, _ := data[loginKey].(map[string]any)
	username, _ := login[loginUser].(string)
	if username == "" {
		return ""
	}
	return auth.Canonical(username)
}

// loginInfo is when and from where a user logged in.
type loginInfo struct {
	at     time.Time // zero for a login stored before logins had a time
	client string    // summary of the User-Agent
	addr   string
}

// loginInfoOf returns the loginInfo stored in login, a session's loginKey
// map.
func loginInfoOf(login map[string]any) loginInfo {
	var li loginInfo
	if ms, ok := login[loginAt].(int64); ok {
		li.at = time.UnixMilli(ms)
	}
	li.client, _ = login[loginClient].(string)
	li.addr, _ = login[loginAddr].(string)
	return li
}

// newLoginInfo returns the loginInfo of a login by the request r now.
func (a *authSite) newLoginInfo(r *aspengo.Request) loginInfo {
	return loginInfo{at: a.now(), client: clientSummary(r.UserAgent()), addr: a.client(r)}
}

// setLogin stores the login of u in the session, made as li says.
func (s *Session) setLogin(u auth.User, li loginInfo) {
	s.login = map[string]any{loginUser: u.Username, loginFingerprint: auth.Fingerprint(u)}
	if !li.at.IsZero() {
		s.login[loginAt] = li.at.UnixMilli()
	}
	if li.client != "" {
		s.login[loginClient] = li.client
	}
	if li.addr != "" {
		s.login[loginAddr] = li.addr
	}
}

// loginInfo returns when and from where the session's login was made.
func (s *Session) loginInfo() loginInfo {
	return loginInfoOf(s.login)
}

// authInbound is the hook trembling.auth:inbound. It reads nothing: it
// makes request.user and request.authenticated lazy, so that a request
// that uses neither (a static file, most API pages) costs no session and
// no account read. The first use reads the login from the session and
// loads its account, once for the request (see readUser).
func (t *Trembling) authInbound(r *aspengo.Request) error {
	a, err := t.authOf(r.Website)
	if err != nil {
		return err
	}
	ra := &requestAuth{load: func() (*auth.User, error) { return a.readUser(r) }}
	r.SetValue(authValueKey{}, ra)
	r.SetLazyAttr("user", func() (starlark.Value, error) {
		u, err := ra.get()
		if err != nil || u == nil {
			return starlark.None, err
		}
		return userValue{u: *u}, nil
	})
	r.SetLazyAttr("authenticated", func() (starlark.Value, error) {
		u, err := ra.get()
		return starlark.Bool(u != nil), err
	})
	setLoginError(r, "")
	return nil
}

// readUser reads the login from the session of r and loads its account:
// an account that is gone, inactive or whose password changed since the
// login (its fingerprint differs) ends the session (Session.Destroy),
// and the request goes on anonymous.
func (a *authSite) readUser(r *aspengo.Request) (*auth.User, error) {
	s, err := SessionOf(r)
	if err != nil {
		return nil, err
	}
	name, fp, ok := s.loggedIn()
	if !ok {
		return nil, nil
	}
	ctx, cancel := a.context(r)
	defer cancel()
	a.reads.Add(1)
	u, err := a.users.Get(ctx, name)
	var why string
	switch {
	case errors.Is(err, auth.ErrNoUser):
		why = "account deleted"
	case err != nil:
		// Not a reason to end the session: the database may be back soon.
		return nil, dbError("reading the logged-in account", err)
	case !u.IsActive:
		why = "account disabled"
	case fp == "" || auth.Fingerprint(u) != fp:
		why = "password changed"
	default:
		return &u, nil
	}
	a.log.Info("trembling: session ended", "user", name, "reason", why)
	return nil, s.Destroy(r.Context())
}

// request.user

// userValue is request.user (and what create_user returns): a read-only
// view of an account, without its password hash.
type userValue struct{ u auth.User }

var (
	_ starlark.HasAttrs       = userValue{}
	_ simplate.TemplateValuer = userValue{}
)

var userAttrNames = []string{"created_at", "email", "id", "is_active", "last_login", "must_change_password", "username"}

func (v userValue) String() string        { return fmt.Sprintf("<user %q>", v.u.Username) }
func (v userValue) Type() string          { return "user" }
func (v userValue) Freeze()               {} // immutable
func (v userValue) Truth() starlark.Bool  { return starlark.True }
func (v userValue) Hash() (uint32, error) { return starlark.String(v.u.Username).Hash() }
func (v userValue) AttrNames() []string   { return userAttrNames }

// Attr returns username, email (None when there is none), is_active,
// created_at, last_login (time.time values in UTC; last_login is None
// before the first login), id (the account's _id, the canonical
// username) and must_change_password (True after an operator set a
// temporary password, until the user sets their own).
func (v userValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "username":
		return starlark.String(v.u.Username), nil
	case "email":
		if v.u.Email == "" {
			return starlark.None, nil
		}
		return starlark.String(v.u.Email), nil
	case "is_active":
		return starlark.Bool(v.u.IsActive), nil
	case "created_at":
		return starlarktime.Time(v.u.CreatedAt.UTC()), nil
	case "last_login":
		if v.u.LastLogin.IsZero() {
			return starlark.None, nil
		}
		return starlarktime.Time(v.u.LastLogin.UTC()), nil
	case "id":
		return starlark.String(v.u.ID), nil
	case "must_change_password":
		return starlark.Bool(v.u.MustChangePassword), nil
	}
	return nil, nil
}

// TemplateValue gives templates a map of the same attributes:
// {{ .request.user.username }}; times are time.Time (nil for no last
// login).
func (v userValue) TemplateValue() any {
	m := map[string]any{
		"username":   v.u.Username,
		"email":      nil,
		"is_active":  v.u.IsActive,
		"created_at": v.u.CreatedAt.UTC(),
		"last_login": nil,
		"id":         v.u.ID,

		"must_change_password": v.u.MustChangePassword,
	}
	if v.u.Email != "" {
		m["email"] = v.u.Email
	}
	if !v.u.LastLogin.IsZero() {
		m["last_login"] = v.u.LastLogin.UTC()
	}
	return m
}
