package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"
)

// dummy returns a bcrypt hash at the configured cost of a random
// password, made on first use, to compare unknown usernames against.
func (s *Users) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		var h []byte
		h, s.dummyErr = bcrypt.GenerateFromPassword(s.prehash(rand.Text()), s.cost)
		s.dummyHash = pepperedPrefix + string(h)
	})
	return s.dummyHash, s.dummyErr
}

// Authenticate checks username and password and returns the account,
// for a client without a device cookie: [Users.Login] with none.
func (s *Users) Authenticate(ctx context.Context, username, password string) (User, error) {
	u, _, err := s.Login(ctx, username, password, "")
	return u, err
}

// Login checks username and password and returns the account and a new
// device cookie for the client: [Users.LoginFrom] with no client address.
func (s *Users) Login(ctx context.Context, username, password, device string) (User, string, error) {
	return s.LoginFrom(ctx, username, password, device, "")
}

// LoginFrom checks username and password and returns the account and a
// new device cookie for the client, which it should keep and present at
// its next login (see the package documentation); device is the one it
// presented, "" for none; client is the client's address ("" for none),
// whose failed attempts on any account are limited too.
//
// The error is [ErrInvalidCredentials] itself for an unknown username, a
// wrong password (an empty or over-long one included) and an inactive
// account, after the same work in each case (except that a username no
// account can have, per [CheckUsername], skips the database lookup: the
// rules are public, so that says nothing); an error matching
// [ErrThrottled] when the account has too many recent failed attempts
// from clients without a device cookie for it (or, for a client with
// one, when that device cookie has), or when client has too many recent
// failed attempts on any accounts and presents no valid device cookie
// for this one (a [*ThrottledError] with Client set); an error matching
// [ErrBusy] when too many passwords are being checked at once; and
// anything else only for database failures. On success it records
// last_login, upgrades a hash of an older version or a lower cost than
// configured, resets the attempt counter the attempt was counted against
// and does not count the attempt against the client.
func (s *Users) LoginFrom(ctx context.Context, username, password, device, client string) (User, string, error) {
	if err := s.EnsureIndexes(ctx); err != nil {
		return User{}, "", err
	}
	name := throttleName(username)
	counter := accountCounter(name)
	known := false
	if device != "" {
		if c, ok := s.devices.check(device, name); ok {
			counter, known = c, true
		}
	}
	// A browser that has logged in to this account before is not
	// throttled by its address: others behind the same address (an
	// office, a carrier's NAT) may be spraying.
	var clientSlot string
	if client != "" && !known {
		var err error
		if clientSlot, err = s.claim(ctx, clientCounter(client), s.maxClient); err != nil {
			var te *ThrottledError
			if errors.As(err, &te) {
				te.Client = true
			}
			return User{}, "", err
		}
	}
	slot, err := s.claim(ctx, counter, s.maxFailures)
	if err != nil {
		s.giveBack(ctx, clientSlot, "client, account throttled") // not checked: not a failure
		return User{}, "", err
	}
	u, err := s.checkPassword(ctx, username, password)
	if errors.Is(err, ErrBusy) {
		// The password was not checked: this attempt does not count.
		s.giveBack(ctx, slot, "busy")
		s.giveBack(ctx, clientSlot, "client, busy")
	}
	if err != nil {
		return User{}, "", err
	}
	s.giveBack(ctx, clientSlot, "client, success")
	if err := s.release(ctx, counter); err != nil {
		s.logger.Warn("auth: login succeeded but its attempt counter was not reset", "user", u.ID, "err", err)
	}
	return u, s.devices.issue(u.ID), nil
}

// KnownDevice reports whether device is a valid device cookie of the
// account username: the browser that presents it has logged in as that
// user before. A login without one is a login from a new device.
func (s *Users) KnownDevice(ctx context.Context, device, username string) bool {
	if device == "" || s.EnsureIndexes(ctx) != nil {
		return false
	}
	_, ok := s.devices.check(device, throttleName(username))
	return ok
}

// checkPassword is Login once the attempt is counted.
func (s *Users) checkPassword(ctx context.Context, username, password string) (User, error) {
	var d userDoc
	found := false
	if CheckUsername(username) == nil { // no account has an invalid name
		var err error
		if d, found, err = s.find(ctx, username); err != nil {
			return User{}, err
		}
	}
	release, err := s.HashSlot(ctx)
	if err != nil {
		return User{}, err
	}
	hash := d.PasswordHash
	if !found {
		var err error
		if hash, err = s.dummy(); err != nil {
			release()
			return User{}, fmt.Errorf("auth: making the dummy hash: %w", err)
		}
	}
	// Compare even when the answer is already known to be no, so that
	// every failure costs one comparison.
	err = s.compare(hash, password)
	if err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) && found {
		s.logger.Warn("auth: stored password hash is unusable", "user", d.Username, "err", err)
	}
	if found {
		// A hash of a lower cost than configured (made before the cost
		// was raised, not yet upgraded) compares much faster than the
		// dummy an unknown username gets: pay the configured cost as
		// well, so that the difference shrinks from a factor of 2^k to
		// at most 1 + 2^-k.
		if c, cerr := storedCost(hash); cerr == nil && c < s.cost {
			if dh, derr := s.dummy(); derr == nil {
				s.compare(dh, password)
			}
		}
	}
	release()
	if err != nil || !found || !d.IsActive || password == "" || utf8.RuneCountInString(password) > MaxPasswordLen {
		return User{}, ErrInvalidCredentials
	}
	if d.MustChange && d.TemporarySince != nil && s.now().Sub(*d.TemporarySince) > s.tempLife {
		s.logger.Info("auth: login with an expired temporary password refused", "user", d.Username)
		return User{}, ErrInvalidCredentials
	}
	return s.loginSucceeded(ctx, d, password)
}

// loginSucceeded records the login of d, whose hash password matched,
// and upgrades that hash if it is of an older version (no pepper) or its
// cost is low.
//
// Recording the login is one update by _id, as every query of a request
// is. The returned User carries the hash as read, so if the password
// changed or the account was disabled meanwhile, its Fingerprint is
// already stale and the session it starts ends at its next request.
//
// An upgrade must not overwrite a password set meanwhile, so it applies
// only if the account is still active with the hash read (a filter
// beyond _id, which may scan the collection; it happens once per account
// after the cost is raised or the version changes). When two logins
// upgrade at once, the second re-reads the first's hash instead of
// overwriting it, so that the returned User's Fingerprint is the stored
// one.
func (s *Users) loginSucceeded(ctx context.Context, d userDoc, password string) (User, error) {
	defer s.forget(d.Username)
	// A password set under an older, laxer policy (too short, or common
	// now) still logs in, once: the user must then choose another.
	weak := !d.MustChange && CheckPassword(password) != nil
	if weak {
		s.logger.Info("auth: the password logged in with no longer meets the policy; the user must change it", "user", d.Username)
	}
	loginSet := func(now time.Time) bson.D {
		set := bson.D{{Key: "last_login", Value: now}}
		if weak {
			set = append(set, bson.E{Key: "must_change_password", Value: true})
		}
		return set
	}
	done := func(now time.Time) (User, error) {
		d.LastLogin = &now
		d.MustChange = d.MustChange || weak
		return d.user(), nil
	}
	now := s.now()
	if !s.needsUpgrade(d.PasswordHash) {
		res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
			bson.D{{Key: "$set", Value: loginSet(now)}})
		if err != nil {
			return User{}, fmt.Errorf("auth: recording login of %s: %w", quote(d.Username), err)
		}
		if res.MatchedCount == 0 {
			return User{}, ErrInvalidCredentials // deleted meanwhile
		}
		return done(now)
	}
	for try := 0; ; try++ {
		now := s.now()
		set := loginSet(now)
		newHash := d.PasswordHash
		if s.needsUpgrade(d.PasswordHash) {
			if h, err := s.hash(ctx, password); err != nil {
				s.logger.Warn("auth: upgrading password hash", "user", d.Username, "err", err)
			} else {
				newHash = h
				set = append(set, bson.E{Key: "password_hash", Value: h})
			}
		}
		res, err := s.users.UpdateOne(ctx, bson.D{
			{Key: "_id", Value: d.ID},
			{Key: "password_hash", Value: d.PasswordHash},
			{Key: "is_active", Value: true},
		}, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return User{}, fmt.Errorf("auth: recording login of %s: %w", quote(d.Username), err)
		}
		if res.MatchedCount > 0 {
			d.PasswordHash = newHash
			return done(now)
		}
		if try > 0 {
			return User{}, ErrInvalidCredentials // changed twice during one login: give up
		}
		// The account changed since it was read.
		cur, found, err := s.find(ctx, d.Username)
		if err != nil {
			return User{}, err
		}
		if !found || cur.ID != d.ID || !cur.IsActive {
			return User{}, ErrInvalidCredentials
		}
		if cur.PasswordHash != d.PasswordHash {
			release, err := s.HashSlot(ctx)
			if err != nil {
				return User{}, err
			}
			err = s.compare(cur.PasswordHash, password)
			release()
			if err != nil {
				return User{}, ErrInvalidCredentials
			}
		}
		d = cur
	}
}

// throttleName is the name whose attempts are counted together: the
// canonical username, or an invalid one as given (no account has it, but
// it is counted like any other).
func throttleName(username string) string {
	if CheckUsername(username) != nil {
		return username
	}
	return Canonical(username)
}
