package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// TokenSize is the number of random bytes in a [Token].
const TokenSize = 32

// tokenLen is the length of a token's base64url text without padding.
var tokenLen = base64.RawURLEncoding.EncodedLen(TokenSize)

// strictB64 refuses non-zero trailing bits, so each token has exactly one
// text form.
var strictB64 = base64.RawURLEncoding.Strict()

// A Token is the secret a session cookie carries. Its text form, from
// [Token.String], is base64url without padding.
type Token [TokenSize]byte

// NewToken returns a token of 32 bytes from crypto/rand.
func NewToken() (Token, error) {
	var t Token
	if _, err := rand.Read(t[:]); err != nil {
		return Token{}, fmt.Errorf("session: making a token: %w", err)
	}
	return t, nil
}

// ErrMalformedToken is returned by [ParseToken] for text that is not a
// token.
var ErrMalformedToken = errors.New("session: malformed token")

// ParseToken parses the text form of a token, as a cookie carries it. It
// refuses anything but exactly 43 characters of the base64url alphabet
// that decode to 32 bytes with no stray bits.
func ParseToken(s string) (Token, error) {
	if len(s) != tokenLen {
		return Token{}, ErrMalformedToken
	}
	// The decoder skips '\r' and '\n'; check the alphabet first so that
	// no byte outside it is ever ignored.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Token{}, ErrMalformedToken
		}
	}
	var t Token
	n, err := strictB64.Decode(t[:], []byte(s))
	if err != nil || n != TokenSize {
		return Token{}, ErrMalformedToken
	}
	return t, nil
}

// String returns the token's text form: base64url without padding.
func (t Token) String() string {
	return base64.RawURLEncoding.EncodeToString(t[:])
}

// Hash returns the id under which stores keep the session of token t: the
// SHA-256 of its 32 bytes, as 64 lower-case hex digits.
func Hash(t Token) string {
	sum := sha256.Sum256(t[:])
	return hex.EncodeToString(sum[:])
}
