package session

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// A Store keeps session records on the server, keyed by id = [Hash] of
// the session's token. Every method is bounded by its ctx. A Store is
// safe for concurrent use.
//
// Package sessiontest checks an implementation against this contract.
type Store interface {
	// Find returns the record stored under id. A record whose idle or
	// absolute expiry has passed is reported as not found, as is an id
	// that is unknown or malformed. Find never creates a record. The
	// returned Data is the caller's to change.
	Find(ctx context.Context, id string) (r Record, found bool, err error)

	// Create stores a new record under id. It fails with an error
	// wrapping [ErrExists] when a live record has that id. The store
	// keeps a copy: later changes to r.Data do not reach it.
	Create(ctx context.Context, id string, r Record) error

	// Update applies c to the latest version of the live record stored
	// under id (see [Change.Apply]) and returns the result. It reports
	// false, and stores nothing, when no live record is there: a session
	// deleted or expired meanwhile is never brought back. It makes no
	// write and fails with an error wrapping [ErrTooLarge] when the
	// result would be over c.MaxSize. Concurrent Updates of one record
	// are applied one after the other, each to the other's result.
	Update(ctx context.Context, id string, c Change) (r Record, updated bool, err error)

	// Delete removes the record stored under id. Deleting an unknown id
	// is not an error.
	Delete(ctx context.Context, id string) error

	// DeleteExpired removes every expired record, and only those.
	DeleteExpired(ctx context.Context) error
}

// ErrExists is wrapped by the error [Store.Create] returns when a record
// with the same id exists.
var ErrExists = errors.New("session: a record with that id exists")

// A CookieCodec keeps the whole session in the cookie instead of in a
// Store: Seal turns a record into a cookie value and Open turns it back.
// A [Manager] with a CookieCodec uses it in place of a Store.
//
// Such sessions are not revocable server-side: destroying one expires the
// cookie in the browser, but a copy of the old value still opens until
// its own expiry.
type CookieCodec interface {
	// Seal returns the cookie value holding r, or an error (one wrapping
	// [ErrCookieTooLarge] when r does not fit in a cookie).
	Seal(r Record) (string, error)
	// Open returns the record sealed in value. It reports false, never
	// an error, for a value that is malformed, tampered with, sealed
	// with an unknown key, oversized or expired.
	Open(value string) (r Record, ok bool)
}

// ErrCookieTooLarge is wrapped by the error that saving a session returns
// when its cookie would exceed [MaxCookieSize].
var ErrCookieTooLarge = errors.New("session: cookie too large")

// MaxCookieSize is the largest cookie, name=value, that a Manager sets:
// 4096 bytes, the least that browsers are required to accept.
const MaxCookieSize = 4096

// Sweep calls s.DeleteExpired every interval until ctx is done, logging
// failures to log (slog.Default() when nil). It blocks; run it in its own
// goroutine. A store with no TTL of its own (memstore, mongostore on an
// engine without TTL indexes) needs it to reclaim expired records, which
// it already refuses to return.
func Sweep(ctx context.Context, s Store, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
				log.Error("session: deleting expired sessions", "err", err)
			}
		}
	}
}
