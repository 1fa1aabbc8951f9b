package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on accounts.
const (
	// DefaultCost is the bcrypt cost used when [Options.Cost] is 0.
	DefaultCost = 12
	// MinCost is the lowest bcrypt cost a site should use: trembling's
	// Config and aspengo's --bcrypt-cost refuse lower. NewUsers itself
	// accepts down to [LowestCost], so that tests hash quickly.
	MinCost = 10
	// LowestCost is the lowest bcrypt cost NewUsers accepts (bcrypt's own
	// minimum). It is for tests only: such hashes are cheap to crack.
	LowestCost = 4
	// MaxCost is the highest bcrypt cost (bcrypt's own limit).
	MaxCost = 31
	// MinPasswordLen is the fewest characters (runes) a new password
	// may have.
	MinPasswordLen = 12
	// MaxPasswordLen is the most characters (runes, of any script) a
	// password may have. Passwords are hashed through HMAC-SHA256 before
	// bcrypt, so bcrypt's own limit of 72 bytes does not apply.
	MaxPasswordLen = 128
	// MaxPasswordBytes is the longest password a hash of an older
	// version (plain bcrypt, without the pepper) can match: all bcrypt
	// reads.
	MaxPasswordBytes = 72
	// MaxUsernameLen is the longest username, in characters (all ASCII).
	MaxUsernameLen = 64
	// MaxEmailBytes is the longest e-mail address.
	MaxEmailBytes = 254
)

// CheckUsername reports whether username follows the rules in the package
// documentation; the error wraps [ErrInvalidUsername] and says why.
func CheckUsername(username string) error {
	switch {
	case username == "":
		return fmt.Errorf("%w: empty", ErrInvalidUsername)
	case len(username) > MaxUsernameLen:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalidUsername, quote(username), MaxUsernameLen)
	case !isAlnum(username[0]):
		return fmt.Errorf("%w: %s does not start with a letter or a digit", ErrInvalidUsername, quote(username))
	}
	for i := 0; i < len(username); i++ {
		c := username[i]
		if !isAlnum(c) && !strings.ContainsRune("._-@+", rune(c)) {
			return fmt.Errorf("%w: %s contains %s (allowed: A-Z a-z 0-9 . _ - @ +)", ErrInvalidUsername, quote(username), quote(string(c)))
		}
	}
	return nil
}

// Canonical returns the canonical form of username, the account's _id:
// its Unicode simple case folding. On the characters [CheckUsername]
// allows (ASCII only) that is lower-casing A–Z, so "Alice" and "alice"
// are one account. Canonical does not check username; call CheckUsername
// first.
func Canonical(username string) string {
	for i := 0; i < len(username); i++ {
		if c := username[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.Map(foldRune, username)
		}
	}
	return username // already folded: no copy
}

// foldRune is the simple case folding of r: the smallest rune of its
// case orbit that is lower case, or r itself (CaseFolding.txt maps to
// the lower-case form for every ASCII letter; other letters are refused
// by CheckUsername anyway).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// CheckPassword reports whether password may be set as a new password,
// the one password policy of the accounts: not empty ([ErrPasswordEmpty]),
// at least [MinPasswordLen] characters once each run of spaces counts as
// one, so that padding with spaces does not make a password long
// ([ErrPasswordTooShort]), at most
// [MaxPasswordLen] characters of any script ([ErrPasswordTooLong]), valid
// UTF-8 ([ErrPasswordInvalid]), and not one of the 10,000 most common
// breached passwords in any case ([ErrPasswordCommon]). Each error says
// what is wrong in words a user can act on.
//
// Logging in does not apply it: a password set under an older, laxer
// policy still logs in.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case password == "":
		return ErrPasswordEmpty
	case !utf8.ValidString(password):
		return ErrPasswordInvalid
	case spacesOnce(password) < MinPasswordLen:
		return fmt.Errorf("%w (it has %d)", ErrPasswordTooShort, spacesOnce(password))
	case n > MaxPasswordLen:
		return fmt.Errorf("%w (it has %d)", ErrPasswordTooLong, n)
	case IsCommonPassword(password):
		return ErrPasswordCommon
	}
	return nil
}

// spacesOnce returns the number of characters of password with each run
// of spaces counted as one.
func spacesOnce(password string) int {
	n := 0
	prev := rune(-1)
	for _, r := range password {
		if r != ' ' || prev != ' ' {
			n++
		}
		prev = r
	}
	return n
}

// checkEmail accepts "" (no address) or something shaped like an address:
// at most MaxEmailBytes of valid UTF-8, no spaces or control characters,
// an '@' with something on both sides. It does not try to be RFC 5322.
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	at := strings.LastIndexByte(email, '@')
	switch {
	case len(email) > MaxEmailBytes:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, MaxEmailBytes)
	case !utf8.ValidString(email):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalidEmail, quote(email))
	case strings.ContainsFunc(email, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: %s contains a space or a control character", ErrInvalidEmail, quote(email))
	case at <= 0 || at == len(email)-1:
		return fmt.Errorf("%w: %s is not of the form name@domain", ErrInvalidEmail, quote(email))
	}
	return nil
}

// quote quotes s for an error message, shortened when long.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// fingerprintDomain separates fingerprints from any other SHA-256 of a
// password hash.
const fingerprintDomain = "aspengo trembling/auth fingerprint v1\x00"

// Fingerprint returns a digest of u's password hash, 22 characters of
// base64url (the first 128 bits of a SHA-256 over a fixed label, the
// bcrypt hash and how many times the account was disabled). It changes
// whenever the stored hash changes — a new password, or a cost upgrade at
// login — and when the account is disabled, and is the same for every
// copy of u read while neither happens.
//
// It is not a secret and reveals nothing useful: SHA-256 cannot be
// inverted to the bcrypt hash, and without that hash's 128-bit random
// salt a fingerprint cannot be used to test password guesses. It is
// unkeyed because nothing depends on it being unpredictable; the session
// that holds it is already server-side or sealed.
//
// Fingerprint returns "" for a User that was not read from a [Users]
// (no hash); callers must treat "" as matching nothing.
func Fingerprint(u User) string {
	if u.hash == "" {
		return ""
	}
	fp := fingerprintDomain + u.hash
	if u.epoch != 0 {
		fp += "\x00" + strconv.FormatInt(u.epoch, 10)
	}
	sum := sha256.Sum256([]byte(fp))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// PasswordProblem returns why password cannot be set, as a sentence for
// the person choosing it, or "" when [CheckPassword] accepts it.
func PasswordProblem(password string) string {
	err := CheckPassword(password)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrPasswordEmpty):
		return "Choose a password."
	case errors.Is(err, ErrPasswordTooShort):
		return fmt.Sprintf("Use at least %d characters for your password.", MinPasswordLen)
	case errors.Is(err, ErrPasswordTooLong):
		return fmt.Sprintf("That password is too long: %d characters at most.", MaxPasswordLen)
	case errors.Is(err, ErrPasswordCommon):
		return "That password is one of the most common ones, which attackers try first. Choose another."
	}
	return "That password contains bytes that are not text. Choose another."
}
