package trembling

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
)

// createUserFn is create_user(username, password, email=None,
// fail_if_taken=True) → the new account, as request.user shows one. A
// username taken in any case fails the request with 409, or with
// fail_if_taken=False gives None: a registration page checks
// user_exists first for a friendly message, but of two registrations of
// one name at once both may pass that check, and the loser learns it
// here.
func (t *Trembling) createUserFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username, password string
	var email optString
	failIfTaken := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username, "password", &password, "email?", &email, "fail_if_taken?", &failIfTaken); err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	u, err := a.users.Create(ctx, username, password, string(email))
	switch {
	case errors.Is(err, auth.ErrBusy):
		return nil, a.busy(r, b, err)
	case errors.Is(err, auth.ErrUserExists) && !failIfTaken:
		return starlark.None, nil
	case err != nil:
		return nil, accountError(b, "creating the account", err)
	}
	return userValue{u: u}, nil
}

// setPasswordFn is set_password(username, password). The account's other
// sessions end (their fingerprint no longer matches). When the request is
// logged in as username, its own session stays logged in: it gets a new
// key and the new fingerprint.
func (t *Trembling) setPasswordFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username, password string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username, "password", &password); err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	if err := a.users.SetPassword(ctx, username, password); errors.Is(err, auth.ErrBusy) {
		return nil, a.busy(r, b, err)
	} else if err != nil {
		return nil, accountError(b, "setting the password", err)
	}
	a.notify(r, AccountEvent{Type: EventPasswordChanged, Username: username, Details: map[string]any{"client": a.client(r)}})
	s, err := SessionOf(r)
	if err != nil {
		return starlark.None, nil // no session to keep logged in
	}
	if current, _, ok := s.loggedIn(); !ok || auth.Canonical(current) != auth.Canonical(username) {
		return starlark.None, nil
	}
	u, err := a.users.Get(ctx, username)
	if err != nil {
		return nil, accountError(b, "reading the account", err)
	}
	li := s.loginInfo() // the login is the same one, with a new password
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(u, li)
	setUser(r, &u)
	return starlark.None, nil
}

// userExistsFn is user_exists(username) → bool, in any case. A username
// that no account may have is False without a database lookup. Each
// client address may ask it in at most website.user_exists_per_minute
// requests a minute (DefaultLookupsPerMinute; calls after the first in
// one request are free); beyond that the request ends with 429 and
// Retry-After, so that a page that exposes it cannot list the accounts
// quickly.
func (t *Trembling) userExistsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username); err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	if auth.CheckUsername(username) != nil {
		return starlark.False, nil
	}
	if r.Value(lookupCountedKey{}) == nil {
		r.SetValue(lookupCountedKey{}, true)
		client := a.client(r)
		if ok, retry := a.lookups.allow(client, a.now()); !ok {
			a.log.Warn("trembling: too many user_exists lookups from one client; answered 429", "client", client, "path", r.URL.Path)
			resp := r.Abort(http.StatusTooManyRequests, "")
			resp.Header.Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()+0.999))))
			return nil, fmt.Errorf("%s: %w", b.Name(), resp)
		}
	}
	ctx, cancel := a.context(r)
	defer cancel()
	ok, err := a.users.Exists(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("looking up the account", err))
	}
	return starlark.Bool(ok), nil
}

// checkPasswordFn is check_password(password) → None when password
// follows the password policy of create_user and set_password (12 to 128
// characters, not one of the most common passwords), else a sentence
// saying why not, for the form that asked for it.
func checkPasswordFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var password string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "password", &password); err != nil {
		return nil, err
	}
	if p := auth.PasswordProblem(password); p != "" {
		return starlark.String(p), nil
	}
	return starlark.None, nil
}

// lookupCountedKey marks, among a request's values, that its user_exists
// calls are counted already.
type lookupCountedKey struct{}

// safeNextFn is safe_next(request, default="/"): the "next" parameter of
// the request — on a POST the form body's, else the query string's — if
// auth.SafeNext accepts it as a local path, else default (itself "/" if
// not a safe local path).
func safeNextFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var req aspengo.RequestArg
	dflt := "/"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "default?", &dflt); err != nil {
		return nil, err
	}
	r := req.Request
	var next string
	if r.Method == http.MethodPost {
		// The form is parsed once for the page too (request.body).
		form, err := r.Form()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), badBody(r, err))
		}
		next = form.Get("next")
	}
	if next == "" {
		next = r.URL.Query().Get("next")
	}
	return starlark.String(auth.SafeNext(next, dflt)), nil
}
