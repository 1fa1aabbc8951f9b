package trembling

import (
	"errors"
	"fmt"
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
	"github.com/aspengo/aspengo/trembling/session"
)

// userSessionsFn is user_sessions(request, max_age=900) → a list of
// dicts, one per live session of the logged-in user, the newest first:
//
//   - "id": an opaque str naming the session for end_session (neither
//     its token nor anything the token can be found from);
//   - "created": when it logged in (time.time);
//   - "last_used": about when it was last used (time.time, to the
//     minute);
//   - "client": the browser and system of its login, from the
//     User-Agent ("Firefox on Linux");
//   - "address": the client address of its login;
//   - "current": True for the request's own session.
//
// It needs a login made at most max_age seconds ago (see
// reauth_required), and sends the visitor to the login page otherwise.
// With the cookie store, whose sessions are each in their own browser,
// the list holds the request's own session only.
func (t *Trembling) userSessionsFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, u, s, err := t.recentCall(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	mgr := t.site(r.Website).mgr
	list, err := mgr.UserSessions(r.Context(), auth.Canonical(u.Username))
	if err != nil && !errors.Is(err, session.ErrNoUserIndex) {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	own := s.Ref()
	var out []starlark.Value
	found := false
	for _, us := range list {
		login, _ := us.Record.Data[loginKey].(map[string]any)
		current := own != "" && us.Ref == own
		found = found || current
		out = append(out, userSessionDict(us.Ref, loginInfoOf(login), us.Record.Created, us.LastUsed, current))
	}
	if !found {
		// Not listed: sealed in its cookie, made before sessions were
		// indexed, or renewed by this very request.
		created := s.Created()
		if created.IsZero() {
			created = mgrNow(mgr)
		}
		out = append([]starlark.Value{userSessionDict(own, s.loginInfo(), created, mgrNow(mgr), true)}, out...)
	}
	return starlark.NewList(out), nil
}

// mgrNow returns the current time of the session manager m.
func mgrNow(m *session.Manager) time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// userSessionDict is one entry of user_sessions.
func userSessionDict(ref string, li loginInfo, created, lastUsed time.Time, current bool) *starlark.Dict {
	d := starlark.NewDict(6)
	d.SetKey(starlark.String("id"), starlark.String(ref))
	d.SetKey(starlark.String("created"), starlarktime.Time(created.UTC()))
	d.SetKey(starlark.String("last_used"), starlarktime.Time(lastUsed.UTC()))
	client := li.client
	if client == "" {
		client = "Unknown browser"
	}
	d.SetKey(starlark.String("client"), starlark.String(client))
	d.SetKey(starlark.String("address"), starlark.String(li.addr))
	d.SetKey(starlark.String("current"), starlark.Bool(current))
	return d
}

// endSessionFn is end_session(request, id, max_age=900) → True when it
// ended the session id (an "id" of user_sessions) of the logged-in user,
// False when the user has no such other session: another user's, one
// that ended already, or the request's own (which logout ends). It needs
// a recent login, as user_sessions does.
func (t *Trembling) endSessionFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req aspengo.RequestArg
		id  optString
		age = maxAge(DefaultReauthMaxAge)
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "id", &id, "max_age?", &age); err != nil {
		return nil, err
	}
	r := req.Request
	u, s, err := t.recentUser(b, r, time.Duration(age))
	if err != nil {
		return nil, err
	}
	if id == "" || string(id) == s.Ref() {
		return starlark.False, nil
	}
	ok, err := t.site(r.Website).mgr.EndUserSession(r.Context(), auth.Canonical(u.Username), string(id))
	if errors.Is(err, session.ErrNoUserIndex) {
		return starlark.False, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(ok), nil
}

// endOtherSessionsFn is end_other_sessions(request, max_age=900) → the
// number of the logged-in user's other sessions it ended, as far as the
// store can tell: with the cookie store it moves the user's session
// epoch on, which ends every other sealed session at its next request
// but cannot count them, and gives -1. The request's own session stays
// logged in. It needs a recent login, as user_sessions does.
func (t *Trembling) endOtherSessionsFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, u, s, err := t.recentCall(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	st := t.site(r.Website)
	if st.storeName != StoreCookie {
		n, err := t.endOtherSessions(r, *u, s.Ref())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return starlark.MakeInt(n), nil
	}
	a, err := t.accountsFor(b, r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.context(r)
	defer cancel()
	if err := a.users.EndSessions(ctx, u.Username); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("ending the sealed sessions", err))
	}
	nu, err := a.users.Get(ctx, u.Username)
	if err != nil {
		return nil, accountError(b, "reading the account", err)
	}
	li := s.loginInfo()
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(nu, li) // the new epoch's fingerprint: this one stays
	setUser(r, &nu)
	return starlark.MakeInt(-1), nil
}

// recentCall unpacks the arguments (request, max_age=900) of the
// builtins that need a recent login, and returns the request, its user
// and its session, or ends the request as recentUser does.
func (t *Trembling) recentCall(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*aspengo.Request, *auth.User, *Session, error) {
	var req aspengo.RequestArg
	age := maxAge(DefaultReauthMaxAge)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "max_age?", &age); err != nil {
		return nil, nil, nil, err
	}
	u, s, err := t.recentUser(b, req.Request, time.Duration(age))
	return req.Request, u, s, err
}

// endOtherSessions ends the sessions of u that the store lists, except
// the one named keep ("" for none), and returns how many. A store that
// lists none (sealed cookies) ends none here: their stored fingerprint
// ends them.
func (t *Trembling) endOtherSessions(r *aspengo.Request, u auth.User, keep string) (int, error) {
	n, err := t.site(r.Website).mgr.EndUserSessions(r.Context(), auth.Canonical(u.Username), keep)
	if errors.Is(err, session.ErrNoUserIndex) {
		return 0, nil
	}
	return n, err
}
