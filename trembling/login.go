package trembling

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
)

// loginFn is login(request, username, password) → bool.
//
// On success the session gets a new key (against session fixation) and
// keeps its data, unless it was logged in as another user: then its data
// is cleared first (waiting messages stay). request.user and
// request.authenticated change at once, and request.login_error is "".
// On failure the session is untouched, the result is False and
// request.login_error says why: LoginErrorInvalid or LoginErrorThrottled.
// username and password may be None (a missing form field), which fails.
func (t *Trembling) loginFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req                aspengo.RequestArg
		username, password optString
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "username", &username, "password", &password); err != nil {
		return nil, err
	}
	r := req.Request
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	a, err := t.accountsFor(b, r)
	if err != nil {
		return nil, err
	}
	var device string
	if c, err := r.Cookie(DeviceCookieName); err == nil {
		device = c.Value
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	client := a.client(r)
	u, newDevice, err := a.users.LoginFrom(ctx, string(username), string(password), device, client)
	if err == nil || errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled) {
		a.sweepFailures(r.Context())
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		setLoginError(r, LoginErrorInvalid)
		return starlark.False, nil
	case errors.Is(err, auth.ErrThrottled):
		var te *auth.ThrottledError
		if errors.As(err, &te) && te.Client {
			a.log.Warn("trembling: too many failed logins from one client; throttled", "client", client)
		}
		setLoginError(r, LoginErrorThrottled)
		return starlark.False, nil
	case errors.Is(err, auth.ErrBusy):
		return nil, a.busy(r, b, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("checking the password", err))
	}
	if current, _, ok := s.loggedIn(); ok && current != u.Username { // both as registered
		if err := s.Clear(); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(u, a.newLoginInfo(r))
	setUser(r, &u)
	setLoginError(r, "")
	r.Response.SetCookie(&http.Cookie{
		Name:     DeviceCookieName,
		Value:    newDevice,
		Path:     "/",
		MaxAge:   int(deviceCookieMaxAge / time.Second),
		HttpOnly: true,
		Secure:   t.cookie().SecureFor(r.Request),
		SameSite: http.SameSiteStrictMode, // only the site's own login form needs it
	})
	if !a.users.KnownDevice(ctx, device, u.ID) {
		a.notify(r, AccountEvent{Type: EventNewDeviceLogin, Username: u.Username, Details: map[string]any{
			"client": client, "user_agent": r.UserAgent(),
		}})
	}
	return starlark.True, nil
}

// logoutFn is logout(request): the session is deleted from the store, its
// cookie expired, and the request goes on with a new empty session
// (waiting messages stay, so a page may say "You are logged out").
func (t *Trembling) logoutFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var req aspengo.RequestArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req); err != nil {
		return nil, err
	}
	r := req.Request
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	if err := t.revokeSealed(r, s); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := s.Destroy(r.Context()); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	setUser(r, nil)
	setLoginError(r, "")
	return starlark.None, nil
}

// revokeSealed makes a logout stick on the cookie store, whose sealed
// session a replayed cookie would otherwise bring back: it moves the
// account's session epoch on, which changes its fingerprint, so every
// session logged in as that user before now ends at its next request
// (see readUser). The other stores delete the session instead.
func (t *Trembling) revokeSealed(r *aspengo.Request, s *Session) error {
	st := t.site(r.Website)
	if st == nil || st.storeName != StoreCookie {
		return nil
	}
	name, _, ok := s.loggedIn()
	if !ok {
		return nil
	}
	a, err := t.authOf(r.Website)
	if err != nil {
		return err
	}
	ctx, cancel := a.context(r)
	defer cancel()
	if err := a.users.EndSessions(ctx, name); err != nil && !errors.Is(err, auth.ErrNoUser) {
		return dbError("ending the sealed sessions", err)
	}
	return nil
}

// loginRequiredFn is login_required(request, login_url=None): None for a
// logged-in visitor; otherwise the request ends with a 302 to login_url
// (else website.login_url, else Config.LoginURL, else DefaultLoginURL)
// with ?next=<the path and query asked for> (&next= when login_url
// already has a query).
func (t *Trembling) loginRequiredFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req      aspengo.RequestArg
		loginURL optString
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "login_url?", &loginURL); err != nil {
		return nil, err
	}
	r := req.Request
	if u, err := userFor(b, r); err != nil {
		return nil, err
	} else if u != nil {
		if u.MustChangePassword {
			if cp := t.changePasswordURL(r.Website); cp != "" && !samePath(cp, r.URL.Path) {
				return nil, fmt.Errorf("%s: %w", b.Name(), r.Redirect(withNext(cp, r.URL.RequestURI()), http.StatusFound))
			}
		}
		return starlark.None, nil
	}
	return nil, t.toLogin(b, r, string(loginURL), false)
}

// toLogin ends the request with a 302 to the login page: loginURL, else
// website.login_url, else Config.LoginURL, else DefaultLoginURL, with
// ?next=<the path and query asked for>, and reauth=1 after it when a
// logged-in user must give their password again (see reauth_required).
func (t *Trembling) toLogin(b *starlark.Builtin, r *aspengo.Request, loginURL string, reauth bool) error {
	to := loginURL
	if to == "" {
		to = t.loginURL(r.Website)
	}
	if to == "" {
		to = DefaultLoginURL
	}
	to = withNext(to, r.URL.RequestURI())
	if reauth {
		to += "&reauth=1"
	}
	return fmt.Errorf("%s: %w", b.Name(), r.Redirect(to, http.StatusFound))
}

// withNext returns u with the query parameter next=target added.
func withNext(u, target string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "next=" + url.QueryEscape(target)
}

// samePath reports whether the local URL u (maybe with a query) names
// path.
func samePath(u, path string) bool {
	p, _, _ := strings.Cut(u, "?")
	return p == path
}
