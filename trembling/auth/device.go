package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// MinDeviceKeySize is the shortest [Options.DeviceKey] NewUsers accepts.
const MinDeviceKeySize = 32

// deviceDomain separates device cookie MACs from any other use of the key.
const deviceDomain = "aspengo trembling/auth device cookie v1\x00"

// devices issues and checks device cookies: "<nonce>.<mac>", base64url,
// where nonce is 16 random bytes and mac the first 16 bytes of
// HMAC-SHA256(key, label ‖ canonical username ‖ 0 ‖ nonce). The cookie
// does not carry the username: checked against another account, the MAC
// does not match.
type devices struct {
	key []byte
}

// issue returns a new device cookie for the account canonical.
func (d devices) issue(canonical string) string {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(nonce) + "." + base64.RawURLEncoding.EncodeToString(d.mac(canonical, nonce))
}

// check returns the counter of the device cookie token if it was issued
// for canonical by this key, else ok is false.
func (d devices) check(token, canonical string) (counter string, ok bool) {
	n, m, found := strings.Cut(token, ".")
	if !found || len(token) > 64 {
		return "", false
	}
	nonce, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(nonce) != 16 {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !hmac.Equal(mac, d.mac(canonical, nonce)) {
		return "", false
	}
	sum := sha256.Sum256([]byte("aspengo trembling/auth device failures v1\x00" + canonical + "\x00" + n))
	return "d" + hex.EncodeToString(sum[:]), true
}

func (d devices) mac(canonical string, nonce []byte) []byte {
	h := hmac.New(sha256.New, d.key)
	h.Write([]byte(deviceDomain))
	h.Write([]byte(canonical))
	h.Write([]byte{0})
	h.Write(nonce)
	return h.Sum(nil)[:16]
}

// deviceKeyID is the _id of the device key in KeysCollection.
const deviceKeyID = "device_cookies"

// loadKey returns the key of _id id kept in keys (what names it in
// errors), inserting a random one if there is none: of processes starting
// at once, the first insert wins (a unique _id) and the others read it.
func loadKey(ctx context.Context, keys *mongo.Collection, id, what string) ([]byte, error) {
	var doc struct {
		Key []byte `bson:"key"`
	}
	for range 2 {
		err := keys.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
		if err == nil {
			if len(doc.Key) < MinDeviceKeySize {
				return nil, fmt.Errorf("auth: the %s in %s has %d bytes, fewer than %d", what, KeysCollection, len(doc.Key), MinDeviceKeySize)
			}
			return doc.Key, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("auth: reading the %s: %w", what, err)
		}
		key := make([]byte, MinDeviceKeySize)
		rand.Read(key)
		_, err = keys.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "key", Value: key}})
		if err == nil {
			return key, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("auth: storing the %s: %w", what, err)
		}
	}
	return nil, fmt.Errorf("auth: the %s in %s could not be read", what, KeysCollection)
}
