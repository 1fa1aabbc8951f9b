package auth

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by this package; test for them with [errors.Is]. Most
// are wrapped with context (the username, the limit that was broken);
// [Users.Authenticate] returns [ErrInvalidCredentials] itself, unwrapped,
// so that its failures cannot be told apart.
var (
	// ErrInvalidCredentials is returned by Authenticate for an unknown
	// username, a wrong password and an inactive account alike.
	ErrInvalidCredentials = errors.New("auth: invalid username or password")
	// ErrThrottled is matched by the error Authenticate returns while a
	// username has too many recent failures; see [ThrottledError].
	ErrThrottled = errors.New("auth: too many failed login attempts, try again later")
	// ErrBusy is matched by the error Login returns when too many
	// passwords are being checked at once; see [BusyError].
	ErrBusy = errors.New("auth: too many logins at once, try again shortly")
	// ErrUserExists is returned by Create for a username already taken.
	ErrUserExists = errors.New("auth: user already exists")
	// ErrNoUser is returned for a username that has no account.
	ErrNoUser = errors.New("auth: no such user")
	// ErrInvalidUsername is returned for a username that breaks the rules
	// in the package documentation.
	ErrInvalidUsername = errors.New("auth: invalid username")
	// ErrInvalidEmail is returned for an e-mail address that is not empty
	// and not plausible.
	ErrInvalidEmail = errors.New("auth: invalid e-mail address")
	// ErrPasswordEmpty is returned when a new password is empty.
	ErrPasswordEmpty = errors.New("auth: password is empty")
	// ErrPasswordTooShort is returned when a new password has fewer
	// than [MinPasswordLen] characters.
	ErrPasswordTooShort = fmt.Errorf("auth: password is shorter than %d characters", MinPasswordLen)
	// ErrPasswordTooLong is returned when a new password has more than
	// [MaxPasswordLen] characters.
	ErrPasswordTooLong = fmt.Errorf("auth: password is longer than %d characters", MaxPasswordLen)
	// ErrPasswordCommon is returned when a new password is one of the
	// most common breached passwords (see [IsCommonPassword]).
	ErrPasswordCommon = errors.New("auth: password is one of the most common passwords, which are tried first: choose another")
	// ErrPasswordInvalid is returned when a new password is not valid
	// UTF-8 text.
	ErrPasswordInvalid = errors.New("auth: password is not valid UTF-8 text")
	// ErrInvalidOptions is returned by NewUsers for options out of range.
	ErrInvalidOptions = errors.New("auth: invalid options")
)

// ThrottledError is the error Authenticate returns for a throttled
// username. It matches [ErrThrottled]; Until is when the current window
// ends and attempts are counted afresh.
type ThrottledError struct {
	Until time.Time
	// Client is true when the limit reached is the one on failed logins
	// from the client on any account (password spraying), not the one
	// on the account.
	Client bool
}

func (e *ThrottledError) Error() string {
	by := ""
	if e.Client {
		by = " from this client"
	}
	return fmt.Sprintf("%v%s (until %s)", ErrThrottled, by, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap returns ErrThrottled.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }
