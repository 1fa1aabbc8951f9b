package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// MinPepperSize is the shortest [Options.Pepper] NewUsers accepts.
const MinPepperSize = 32

// pepperKeyID is the _id of the pepper in KeysCollection.
const pepperKeyID = "password_pepper"

// pepperedPrefix starts a password hash of the current version: the
// bcrypt hash of the base64 of HMAC-SHA256(pepper, label ‖ password)
// follows it. A hash without it is of the older version, plain bcrypt of
// the password, and is replaced at the next successful login.
//
// The HMAC makes any password 44 bytes, so bcrypt's limit of 72 bytes no
// longer cuts long passwords short, and with the pepper kept out of the
// database a stolen users collection cannot be attacked offline without
// the key file as well.
const pepperedPrefix = "$aspengo-hmac-sha256-v1$"

// pepperDomain separates the password HMAC from any other use of the key.
const pepperDomain = "aspengo trembling/auth password v1\x00"

// prehash returns what bcrypt hashes for password: the base64 of its
// HMAC under the pepper.
func (s *Users) prehash(password string) []byte {
	h := hmac.New(sha256.New, s.pepper)
	h.Write([]byte(pepperDomain))
	h.Write([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(h.Sum(nil)))
}

// bcryptPart returns the bcrypt hash inside stored and whether stored is
// of the current (peppered) version.
func bcryptPart(stored string) (hash []byte, peppered bool) {
	if rest, ok := strings.CutPrefix(stored, pepperedPrefix); ok {
		return []byte(rest), true
	}
	return []byte(stored), false
}

// storedCost returns the bcrypt cost of a stored hash of either version.
func storedCost(stored string) (int, error) {
	h, _ := bcryptPart(stored)
	return bcrypt.Cost(h)
}

// compare checks password against a stored hash of either version, with
// bcrypt's errors. An old-version hash cannot match a password over
// MaxPasswordBytes (bcrypt would compare only its first 72 bytes).
func (s *Users) compare(stored, password string) error {
	h, peppered := bcryptPart(stored)
	if peppered {
		return bcrypt.CompareHashAndPassword(h, s.prehash(password))
	}
	err := bcrypt.CompareHashAndPassword(h, []byte(password))
	if err == nil && len(password) > MaxPasswordBytes {
		return bcrypt.ErrMismatchedHashAndPassword
	}
	return err
}

// needsUpgrade reports whether a stored hash that matched should be
// replaced at login: it is of the old version, or of a lower cost than
// configured.
func (s *Users) needsUpgrade(stored string) bool {
	h, peppered := bcryptPart(stored)
	c, err := bcrypt.Cost(h)
	return err == nil && (!peppered || c < s.cost)
}

// HashCost returns the bcrypt cost of a stored password hash of either
// version (with or without the pepper).
func HashCost(hash string) (int, error) { return storedCost(hash) }
