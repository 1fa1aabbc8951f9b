package trembling

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
)

// DefaultReauthMaxAge is how recent a login user_sessions and
// end_session ask for when the page does not say: 15 minutes.
const DefaultReauthMaxAge = 15 * time.Minute

// Sentences change_password returns for the form that asked for it.
const (
	PasswordWrongCurrent = "The current password is wrong."
	PasswordThrottled    = "Too many attempts. Wait a few minutes, then try again."
	PasswordUnchanged    = "The new password is the current one: choose another."
)

// maxAge is a number of seconds argument (int or float, at least 0).
type maxAge time.Duration

// Unpack implements starlark.Unpacker.
func (m *maxAge) Unpack(v starlark.Value) error {
	f, ok := starlark.AsFloat(v)
	if !ok {
		return fmt.Errorf("want a number of seconds, not %s", v.Type())
	}
	if !(f >= 0) || f > float64(math.MaxInt64/int64(time.Second)) {
		return fmt.Errorf("%v seconds is out of range", v)
	}
	*m = maxAge(f * float64(time.Second))
	return nil
}

var _ starlark.Unpacker = (*maxAge)(nil)

// recentUser returns the user r is logged in as, when that login was
// made at most max ago; otherwise the request ends with a 302 to the
// login page with ?next= (and &reauth=1 for a logged-in user, whose
// login page should then ask for the password again rather than say
// they are logged in). A login stored without its time (made by an
// older version) counts as old.
func (t *Trembling) recentUser(b *starlark.Builtin, r *aspengo.Request, max time.Duration) (*auth.User, *Session, error) {
	u, err := userFor(b, r)
	if err != nil {
		return nil, nil, err
	}
	if u == nil {
		return nil, nil, t.toLogin(b, r, "", false)
	}
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, nil, err
	}
	a, err := t.accountsFor(b, r)
	if err != nil {
		return nil, nil, err
	}
	// In whole milliseconds, as the login time is stored.
	at := s.loginInfo().at
	if at.IsZero() || a.now().UnixMilli()-at.UnixMilli() > max.Milliseconds() {
		return nil, nil, t.toLogin(b, r, "", true)
	}
	return u, s, nil
}

// reauthRequiredFn is reauth_required(request, max_age): None when the
// request is logged in by a login made at most max_age seconds ago;
// otherwise the request ends with a 302 to the login page with ?next=,
// like login_required, and &reauth=1 for a logged-in user.
func (t *Trembling) reauthRequiredFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req aspengo.RequestArg
		age maxAge
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "max_age", &age); err != nil {
		return nil, err
	}
	if _, _, err := t.recentUser(b, req.Request, time.Duration(age)); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// changePasswordFn is change_password(request, current, new) → None when
// the password of the logged-in user is now new, else a sentence for
// the form: new breaks the password policy (check_password's sentence),
// new is the current password, current is wrong (PasswordWrongCurrent),
// or too many attempts (PasswordThrottled).
//
// current is checked as a login checks a password, under the same
// throttle: a wrong one counts as a failed login for the account and for
// the client's address, and while either is throttled even the right one
// fails. A success counts as a login (last_login). Then the password is
// set (must_change_password is cleared), the user's other sessions end
// (deleted from a store that lists them; on any store, their stored
// fingerprint of the password no longer matches), the request's own
// session stays logged in under a new key, and the account event
// password_changed is sent. While every password check is busy the
// request ends with 503 and Retry-After, as for login.
func (t *Trembling) changePasswordFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req           aspengo.RequestArg
		current, next optString
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "current", &current, "new", &next); err != nil {
		return nil, err
	}
	r := req.Request
	u, err := userFor(b, r)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("%s: the request is not logged in (call login_required first)", b.Name())
	}
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	a, err := t.accountsFor(b, r)
	if err != nil {
		return nil, err
	}
	// The policy first: a new password that cannot be set costs no
	// attempt.
	if p := auth.PasswordProblem(string(next)); p != "" {
		return starlark.String(p), nil
	}
	if current == next {
		return starlark.String(PasswordUnchanged), nil
	}
	var device string
	if c, err := r.Cookie(DeviceCookieName); err == nil {
		device = c.Value
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	client := a.client(r)
	_, _, err = a.users.LoginFrom(ctx, u.Username, string(current), device, client)
	if err == nil || errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled) {
		a.sweepFailures(r.Context())
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return starlark.String(PasswordWrongCurrent), nil
	case errors.Is(err, auth.ErrThrottled):
		return starlark.String(PasswordThrottled), nil
	case errors.Is(err, auth.ErrBusy):
		return nil, a.busy(r, b, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("checking the password", err))
	}
	if err := a.users.SetPassword(ctx, u.Username, string(next)); errors.Is(err, auth.ErrBusy) {
		return nil, a.busy(r, b, err)
	} else if err != nil {
		return nil, accountError(b, "setting the password", err)
	}
	nu, err := a.users.Get(ctx, u.Username)
	if err != nil {
		return nil, accountError(b, "reading the account", err)
	}
	// This session goes on under a new key, and the others end.
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if _, err := t.endOtherSessions(r, nu, ""); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(nu, a.newLoginInfo(r))
	setUser(r, &nu)
	a.notify(r, AccountEvent{Type: EventPasswordChanged, Username: nu.Username, Details: map[string]any{"client": client}})
	return starlark.None, nil
}
