package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// failureDoc is a row of login_failures.
type failureDoc struct {
	Count       int64     `bson:"count"`
	WindowStart time.Time `bson:"window_start"`
}

// failureKey is the _id of username's row: the username is not stored.
func failureKey(username string) string {
	sum := sha256.Sum256([]byte("aspengo trembling/auth login_failures v1\x00" + username))
	return hex.EncodeToString(sum[:])
}

// countAttempt counts one login attempt for username and returns a
// *ThrottledError when it is beyond the window's allowance. The count is
// taken before the password is checked (a successful login deletes the
// row), in one atomic upsert, so parallel attempts cannot overrun it.
func (s *Users) countAttempt(ctx context.Context, username string) error {
	key := failureKey(username)
	now := s.now()
	for range 3 {
		var f failureDoc
		err := s.failures.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: key}},
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(1)}}},
				{Key: "$setOnInsert", Value: bson.D{{Key: "window_start", Value: now}}},
			},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&f)
		if mongo.IsDuplicateKeyError(err) {
			continue // two first attempts at once: the other one inserted
		}
		if err != nil {
			return fmt.Errorf("auth: counting login attempt: %w", err)
		}
		end := f.WindowStart.Add(s.window)
		if now.Before(end) {
			if f.Count > int64(s.maxFailures) {
				return &ThrottledError{Until: end}
			}
			return nil
		}
		// The window is over: this attempt starts a new one, unless
		// another attempt did so first (then count again in that one).
		res, err := s.failures.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: "window_start", Value: f.WindowStart}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: int64(1)}, {Key: "window_start", Value: now}}}},
		)
		if err != nil {
			return fmt.Errorf("auth: counting login attempt: %w", err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
	}
	return fmt.Errorf("auth: counting login attempt: the counter kept changing")
}

// ResetFailures forgets the login attempts counted for username, ending
// its throttling (Authenticate does it after a success; an administrator
// may do it after a reset password).
func (s *Users) ResetFailures(ctx context.Context, username string) error {
	if _, err := s.failures.DeleteOne(ctx, bson.D{{Key: "_id", Value: failureKey(throttleName(username))}}); err != nil {
		return fmt.Errorf("auth: resetting login attempts: %w", err)
	}
	return nil
}

// DeleteStaleFailures removes the attempt counters whose window has
// passed, and returns how many. Those rows no longer throttle anything
// (the next attempt would reset them); call it periodically, since the
// embedded engine has no TTL indexes to do it.
func (s *Users) DeleteStaleFailures(ctx context.Context) (int64, error) {
	res, err := s.failures.DeleteMany(ctx, bson.D{
		{Key: "window_start", Value: bson.D{{Key: "$lte", Value: s.now().Add(-s.window)}}},
	})
	if err != nil {
		return 0, fmt.Errorf("auth: deleting stale login attempts: %w", err)
	}
	return res.DeletedCount, nil
}
