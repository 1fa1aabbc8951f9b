package database

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// UnavailableError reports that the database could not be reached or did
// not answer in time: no server could be selected, the network failed, or
// the operation's deadline passed. Its HTTPStatus is 503, so a website
// answers 503 Service Unavailable rather than 500 when a page's query
// fails this way. Find it with errors.As; Starlark's *starlark.EvalError
// unwraps to it.
type UnavailableError struct {
	// Op names the operation, such as "todos.find" or "ping".
	Op string
	// Err is the driver's error.
	Err error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("database unavailable: %s: %v", e.Op, e.Err)
}

// Unwrap returns the driver's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// HTTPStatus returns 503 (Service Unavailable).
func (e *UnavailableError) HTTPStatus() int { return http.StatusServiceUnavailable }

// InvalidObjectIDError reports a string that is not 24 hexadecimal digits
// given to ObjectId(). Its HTTPStatus is 400: such a string usually comes
// from a URL or a form, and a request carrying a malformed id is a bad
// request rather than a server failure.
type InvalidObjectIDError struct {
	// Input is the string that was given (cut to 64 bytes).
	Input string
}

// Error implements error.
func (e *InvalidObjectIDError) Error() string {
	return fmt.Sprintf("ObjectId(%q): not a valid ObjectId (want 24 hexadecimal digits)", e.Input)
}

// HTTPStatus returns 400 (Bad Request).
func (e *InvalidObjectIDError) HTTPStatus() int { return http.StatusBadRequest }

// QueryError reports a filter, update or document that the operator rules
// refuse (see "Operators" in the package documentation): an operator such
// as $where, $regex or $expr, a field name that starts with $, an update
// without operators. Its HTTPStatus is 400: the usual source of such a
// value is a request (a JSON body whose dict became a filter), and the
// answer to a request that tries to smuggle an operator is a bad request,
// not a server failure with a traceback. Find it with errors.As; Starlark's
// *starlark.EvalError unwraps to it.
type QueryError struct {
	// Err says what was refused and where ("tags[2]: operator $where is
	// not allowed in a filter ...").
	Err error
}

// Error implements error.
func (e *QueryError) Error() string { return e.Err.Error() }

// Unwrap returns the reason.
func (e *QueryError) Unwrap() error { return e.Err }

// HTTPStatus returns 400 (Bad Request).
func (e *QueryError) HTTPStatus() int { return http.StatusBadRequest }

// refused wraps a violation of the operator rules in a *QueryError; nil
// stays nil.
func refused(err error) error {
	if err == nil {
		return nil
	}
	return &QueryError{Err: err}
}

// IsDuplicateKey reports whether err (or an error it wraps, such as the
// cause of a *starlark.EvalError) is MongoDB's duplicate key error: an
// insert or update that would break a unique index. It also recognises
// the embedded engine (FerretDB on SQLite), which reports an update that
// breaks a unique index as an InternalError (code 1) whose message says
// "UNIQUE constraint failed", and FerretDB on PostgreSQL, whose message
// carries PostgreSQL's unique_violation (SQLSTATE 23505).
func IsDuplicateKey(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(1) &&
		(se.HasErrorMessage("UNIQUE constraint failed") || se.HasErrorMessage("(SQLSTATE 23505)"))
}

// IsUnavailable reports whether err means that the database could not be
// reached or did not answer in time: an *UnavailableError, or an error of
// the driver of that kind (server selection failed, a network error, a
// timeout, a disconnected client), also when wrapped. A cancelled context
// is not unavailability (the caller gave up), so it gives false. Code
// that calls the driver directly classifies its errors with it, as this
// package does.
func IsUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue) || unavailable(err)
}

// unavailable reports whether a driver error means that the database
// could not be reached or did not answer in time. A cancelled context is
// not unavailability: the caller (the visitor's request) gave up.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var sse topology.ServerSelectionError
	var ce topology.ConnectionError
	return mongo.IsTimeout(err) ||
		mongo.IsNetworkError(err) ||
		errors.As(err, &sse) ||
		errors.As(err, &ce) ||
		errors.Is(err, mongo.ErrClientDisconnected)
}

// wrapError gives a driver error of operation op its context and its
// class: an *UnavailableError, a duplicate key error, or another error.
func wrapError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return &UnavailableError{Op: op, Err: err}
	case IsDuplicateKey(err):
		return fmt.Errorf("%s: duplicate key (a unique index refuses the value): %w", op, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}
