package trembling

import (
	"fmt"
	"net/http"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
)

// One convention for every builtin: the request it acts on comes from its
// request argument (aspengo.RequestArg) when its signature names one
// (login(request, ...)), else from the thread serving it
// (create_user(username, password)); then sessionFor and accountsFor give
// what the builtin needs, with an error that names the builtin.

// optString is a str argument that may be None (a missing form field),
// which gives "".
type optString string

// Unpack implements starlark.Unpacker.
func (s *optString) Unpack(v starlark.Value) error {
	if v == starlark.None {
		*s = ""
		return nil
	}
	str, ok := starlark.AsString(v)
	if !ok {
		return fmt.Errorf("want str or None, not %s", v.Type())
	}
	*s = optString(str)
	return nil
}

var _ starlark.Unpacker = (*optString)(nil)

// sessionFor returns the session of r for builtin b.
func sessionFor(b *starlark.Builtin, r *aspengo.Request) (*Session, error) {
	s, err := SessionOf(r)
	if err != nil {
		return nil, fmt.Errorf("%s needs the hook %s in hooks.conf", b.Name(), HookInbound)
	}
	return s, nil
}

// userFor returns the user r is logged in as, nil when anonymous, for
// builtin b; it reads the account on the first call of the request.
func userFor(b *starlark.Builtin, r *aspengo.Request) (*auth.User, error) {
	ra, ok := r.Value(authValueKey{}).(*requestAuth)
	if !ok {
		return nil, fmt.Errorf("%s needs the hook %s in hooks.conf", b.Name(), HookAuth)
	}
	u, err := ra.get()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return u, nil
}

// accountsFor returns the accounts of r's website for builtin b.
func (t *Trembling) accountsFor(b *starlark.Builtin, r *aspengo.Request) (*authSite, error) {
	a, err := t.authOf(r.Website)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return a, nil
}

// threadAuth returns the request the thread serves and its website's
// accounts, for the builtins that take no request argument.
func (t *Trembling) threadAuth(thread *starlark.Thread, b *starlark.Builtin) (*aspengo.Request, *authSite, error) {
	r, ok := aspengo.RequestFromThread(thread)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not called while serving a request (a startup hook runs before the accounts are set up; use aspengo user to manage accounts from the command line)", b.Name())
	}
	a, err := t.accountsFor(b, r)
	return r, a, err
}

// badBody is the response that ends a request whose body could not be
// parsed: 413 when it is over the limit, else 400.
func badBody(r *aspengo.Request, err error) error {
	code := http.StatusBadRequest
	if aspengo.BodyTooLarge(err) {
		code = http.StatusRequestEntityTooLarge
	}
	return fmt.Errorf("request body: %v: %w", err, r.Abort(code, ""))
}
