package trembling

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling/auth"
)

// errors

// AccountError is what an account builtin (create_user, set_password)
// reports for what the page passed it: an invalid username, e-mail address
// or password, a username already taken, an unknown account. It is an
// error of the request rather than of the server, so the pipeline answers
// with its HTTPStatus instead of a 500; the page can avoid the common
// ones with user_exists.
type AccountError struct {
	// Builtin is the builtin that refused, such as "create_user".
	Builtin string
	// Err is the auth package's error: it matches auth.ErrUserExists,
	// auth.ErrNoUser, auth.ErrInvalidUsername, auth.ErrInvalidEmail,
	// auth.ErrPasswordEmpty, auth.ErrPasswordTooShort,
	// auth.ErrPasswordTooLong, auth.ErrPasswordCommon or
	// auth.ErrPasswordInvalid, and names the username or the limit.
	Err error
}

func (e *AccountError) Error() string { return e.Builtin + ": " + e.Err.Error() }

// Unwrap returns the auth package's error.
func (e *AccountError) Unwrap() error { return e.Err }

// HTTPStatus returns 409 (Conflict) for a username already taken, 404
// (Not Found) for an unknown account and 400 (Bad Request) otherwise.
func (e *AccountError) HTTPStatus() int {
	switch {
	case errors.Is(e.Err, auth.ErrUserExists):
		return http.StatusConflict
	case errors.Is(e.Err, auth.ErrNoUser):
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// accountError classifies an error of the accounts for builtin b.
func accountError(b *starlark.Builtin, op string, err error) error {
	for _, target := range []error{
		auth.ErrUserExists, auth.ErrNoUser, auth.ErrInvalidUsername,
		auth.ErrInvalidEmail, auth.ErrPasswordEmpty, auth.ErrPasswordTooShort,
		auth.ErrPasswordTooLong, auth.ErrPasswordCommon, auth.ErrPasswordInvalid,
	} {
		if errors.Is(err, target) {
			return &AccountError{Builtin: b.Name(), Err: err}
		}
	}
	return fmt.Errorf("%s: %w", b.Name(), dbError(op, err))
}

// dbError gives an error of the accounts' database its class: an
// *database.UnavailableError (503) when the database could not be reached
// or did not answer in time, else an error with context (500).
func dbError(op string, err error) error {
	// A deadline of the request's own context counts too: the database
	// did not answer in time (a cancelled context is the visitor leaving).
	if database.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return &database.UnavailableError{Op: "accounts: " + op, Err: err}
	}
	return fmt.Errorf("trembling: %s: %w", op, err)
}

// StoreError reports that the session store failed or did not answer in
// time, as when the database is down. Its HTTPStatus is 503, so the
// request is answered with 503 Service Unavailable.
type StoreError struct {
	// Op is the store operation: "find", "create", "update", "delete" or
	// "delete expired".
	Op string
	// Err is the store's error.
	Err error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("trembling: session store unavailable (%s): %v", e.Op, e.Err)
}

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// HTTPStatus returns 503 (Service Unavailable).
func (e *StoreError) HTTPStatus() int { return http.StatusServiceUnavailable }
