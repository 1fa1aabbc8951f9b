// Package cookiestore keeps the whole session in its cookie, sealed with
// AES-256-GCM: a [session.CookieCodec] for a [session.Manager] that needs
// no server-side storage.
//
// A sealed value is base64url (no padding) of
//
//	version (1 byte, 1) | nonce (12 random bytes) | AES-GCM ciphertext and tag
//
// where the plaintext is the record's JSON form ([session.Record.MarshalJSON]).
// The data is encrypted as well as authenticated: the client can neither
// read nor change it. Each secret is turned into an AES-256 key with
// HKDF-SHA256.
//
// Keys rotate: [New] takes a list of secrets, the first seals and every
// one opens, so a new secret can be put first while cookies sealed with
// the old one stay valid until the old secret is dropped.
//
// This package cannot revoke a session server-side: logging out expires
// the cookie in the browser, but a copy of the old value still opens
// until its own expiry. So whoever uses it must check something on each
// request. trembling does it with a per-user epoch kept with the account
// (part of the fingerprint a login stores in the session): a logout with
// the cookie store moves the user's epoch on, so every sealed session
// logged in as that user before the logout, a replayed copy included,
// is no longer logged in at its next request. The account is read anyway
// on every logged-in request (by its exact _id, and cached exactly), so
// this costs one write per logout and nothing per request. The price is
// that a logout on one device ends the user's cookie sessions on all
// devices. A password change or a disabled account ends them the same
// way. A session must also fit in a cookie: a sealed value over
// [session.MaxCookieSize] bytes cannot be saved.
//
// Nor can sealed sessions merge: each response carries one request's
// whole view of the session, so of two requests on one session at once
// the one whose response arrives last decides what the browser keeps,
// and a message added by the other is lost. The conformance suite skips
// those checks for a codec.
package cookiestore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// MinSecretSize is the least number of bytes in a secret.
const MinSecretSize = 32

const (
	version   = 1
	nonceSize = 12
	overhead  = 1 + nonceSize + 16 // version, nonce, GCM tag
	hkdfInfo  = "aspengo session cookie v1"
)

var b64 = base64.RawURLEncoding.Strict()

// Codec seals sessions into cookie values and opens them. It is safe for
// concurrent use.
type Codec struct {
	// Now returns the current time, against which Open checks expiry;
	// nil means time.Now. Set it before first use.
	Now func() time.Time

	aeads []cipher.AEAD // the first seals
}

var _ session.CookieCodec = (*Codec)(nil)

// New returns a codec that seals with the first secret and opens with any
// of them. Each secret must have at least 32 bytes, random (from
// crypto/rand) and kept private.
func New(secrets ...[]byte) (*Codec, error) {
	if len(secrets) == 0 {
		return nil, errors.New("cookiestore: no secret")
	}
	c := &Codec{}
	for i, s := range secrets {
		if len(s) < MinSecretSize {
			return nil, fmt.Errorf("cookiestore: secret %d has %d bytes, want at least %d", i+1, len(s), MinSecretSize)
		}
		key, err := hkdf.Key(sha256.New, s, nil, hkdfInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("cookiestore: deriving key %d: %w", i+1, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("cookiestore: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("cookiestore: key %d: %w", i+1, err)
		}
		c.aeads = append(c.aeads, aead)
	}
	return c, nil
}

func (c *Codec) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Seal returns r sealed with the first secret. It fails with an error
// wrapping [session.ErrCookieTooLarge] when the value would exceed
// [session.MaxCookieSize] bytes, and with a *[session.ValueError] for data
// that sessions cannot keep.
func (c *Codec) Seal(r session.Record) (string, error) {
	plain, err := r.MarshalJSON()
	if err != nil {
		return "", err
	}
	if n := b64.EncodedLen(overhead + len(plain)); n > session.MaxCookieSize {
		return "", fmt.Errorf("cookiestore: the sealed session would be %d bytes, over the %d-byte cookie limit: %w",
			n, session.MaxCookieSize, session.ErrCookieTooLarge)
	}
	buf := make([]byte, 1+nonceSize, overhead+len(plain))
	buf[0] = version
	if _, err := rand.Read(buf[1:]); err != nil {
		return "", fmt.Errorf("cookiestore: making a nonce: %w", err)
	}
	buf = c.aeads[0].Seal(buf, buf[1:1+nonceSize], plain, buf[:1])
	return b64.EncodeToString(buf), nil
}

// Open returns the record sealed in value by any of the codec's secrets.
// It reports false for a value that is oversized, malformed, tampered
// with, sealed with another secret, or expired.
func (c *Codec) Open(value string) (session.Record, bool) {
	if len(value) > session.MaxCookieSize || len(value) < b64.EncodedLen(overhead) {
		return session.Record{}, false
	}
	for i := 0; i < len(value); i++ { // the decoder would skip '\r' and '\n'
		if c := value[i]; c == '\r' || c == '\n' {
			return session.Record{}, false
		}
	}
	buf, err := b64.DecodeString(value)
	if err != nil || len(buf) < overhead || buf[0] != version {
		return session.Record{}, false
	}
	nonce, sealed := buf[1:1+nonceSize], buf[1+nonceSize:]
	for _, aead := range c.aeads {
		plain, err := aead.Open(nil, nonce, sealed, buf[:1])
		if err != nil {
			continue
		}
		var r session.Record
		if err := r.UnmarshalJSON(plain); err != nil || r.Expired(c.now()) {
			return session.Record{}, false
		}
		return r, true
	}
	return session.Record{}, false
}
