package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// failureDoc is a row of login_failures: one counted attempt. Its _id
// says what it counts, in which window, and which of the window's
// MaxFailures slots it holds (see slotID); the row itself holds only when
// it stops mattering.
type failureDoc struct {
	ExpiresAt time.Time `bson:"expires_at"`
}

// accountCounter is the counter of the attempts on username's account
// from clients without a device cookie for it: the username is not
// stored in clear.
func accountCounter(username string) string {
	sum := sha256.Sum256([]byte("aspengo trembling/auth login_failures v1\x00" + username))
	return hex.EncodeToString(sum[:])
}

// clientCounter is the counter of the failed attempts from client (an
// address) on any account. IPv6 clients count by their /64, the block a
// single subscriber is usually given: one address each would let a
// sprayer rotate through billions.
func clientCounter(client string) string {
	if a, err := netip.ParseAddr(client); err == nil && a.Is6() && !a.Is4In6() {
		client = netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	sum := sha256.Sum256([]byte("aspengo trembling/auth client failures v1\x00" + client))
	return "c" + hex.EncodeToString(sum[:])
}

// slotID is the _id of slot n of counter key in window w.
func slotID(key string, w int64, n int) string {
	return key + "#" + strconv.FormatInt(w, 10) + "#" + strconv.Itoa(n)
}

// windowOf returns the index of the throttling window that holds now and
// when it ends. Windows are aligned on multiples of the window length
// since the Unix epoch, so every process agrees on them.
func (s *Users) windowOf(now time.Time) (int64, time.Time) {
	ms := s.window.Milliseconds()
	if ms <= 0 {
		ms = 1
	}
	w := now.UnixMilli() / ms
	return w, time.UnixMilli((w + 1) * ms).UTC()
}

// claim counts one attempt against counter key, before its password is
// checked, and returns the _id of the row that counts it, or a
// *ThrottledError if the window's limit attempts are all counted
// already.
//
// Each attempt is a row of its own, inserted under the first free slot
// number of the window: an insert of a unique _id is atomic on every
// engine (unlike a read-modify-write such as $inc, which a standalone
// FerretDB is not), so parallel attempts each get a different slot and
// exactly limit of them are let through. Every read and write is an
// exact _id lookup.
func (s *Users) claim(ctx context.Context, key string, limit int) (string, error) {
	w, end := s.windowOf(s.now())
	full, err := s.taken(ctx, key, w, limit-1) // the common case of a flood: one read
	if err != nil {
		return "", err
	}
	if full {
		return "", &ThrottledError{Until: end}
	}
	n, err := s.firstFree(ctx, key, w, limit)
	if err != nil {
		return "", err
	}
	for ; n < limit; n++ {
		id := slotID(key, w, n)
		_, err := s.failures.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "expires_at", Value: end}})
		if err == nil {
			return id, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return "", fmt.Errorf("auth: counting login attempt: %w", err)
		}
	}
	return "", &ThrottledError{Until: end}
}

// taken reports whether slot n of key in window w is held.
func (s *Users) taken(ctx context.Context, key string, w int64, n int) (bool, error) {
	err := s.failures.FindOne(ctx, bson.D{{Key: "_id", Value: slotID(key, w, n)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: counting login attempt: %w", err)
	}
	return true, nil
}

// firstFree returns the lowest free slot of key in window w, or limit,
// in O(log limit) reads: slots are taken from 0 up,
// so the held ones are a prefix (but for the holes a concurrent reset
// leaves, which claim's inserts step over).
func (s *Users) firstFree(ctx context.Context, key string, w int64, limit int) (int, error) {
	lo, hi := 0, limit // slots below lo are held; hi is free or the end
	for step := 1; lo+step-1 < hi; step *= 2 {
		n := lo + step - 1
		held, err := s.taken(ctx, key, w, n)
		if err != nil {
			return 0, err
		}
		if !held {
			hi = n
			break
		}
		lo = n + 1
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		held, err := s.taken(ctx, key, w, mid)
		if err != nil {
			return 0, err
		}
		if held {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// release forgets the attempts counted against key in the current
// window.
func (s *Users) release(ctx context.Context, key string) error {
	w, _ := s.windowOf(s.now())
	n, err := s.firstFree(ctx, key, w, s.maxFailures)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := s.failures.DeleteOne(ctx, bson.D{{Key: "_id", Value: slotID(key, w, i)}}); err != nil {
			return fmt.Errorf("auth: resetting login attempts: %w", err)
		}
	}
	return nil
}

// giveBack deletes the row of one counted attempt (slot, from claim)
// that turned out not to be a failure; what says which, for the log.
func (s *Users) giveBack(ctx context.Context, slot, what string) {
	if slot == "" {
		return
	}
	if _, err := s.failures.DeleteOne(ctx, bson.D{{Key: "_id", Value: slot}}); err != nil {
		s.logger.Warn("auth: giving back a counted login attempt", "attempt", what, "err", err)
	}
}

// ResetFailures forgets the login attempts counted for username's
// account in the current window, ending its throttling (Authenticate
// does it after a success from a client without a device cookie; an
// administrator may do it after resetting a password).
func (s *Users) ResetFailures(ctx context.Context, username string) error {
	return s.release(ctx, accountCounter(throttleName(username)))
}

// DeleteStaleFailures removes the rows of attempts whose window has
// passed, and returns how many. Those rows no longer throttle anything;
// call it periodically, since the embedded engine has no TTL indexes to
// do it. It reads every row (it is a sweep, not a request's query).
func (s *Users) DeleteStaleFailures(ctx context.Context) (int64, error) {
	res, err := s.failures.DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: s.now()}}}},
		// The counters of older versions ({count, window_start}).
		bson.D{{Key: "expires_at", Value: bson.D{{Key: "$exists", Value: false}}}},
	}}})
	if err != nil {
		return 0, fmt.Errorf("auth: deleting stale login attempts: %w", err)
	}
	return res.DeletedCount, nil
}
