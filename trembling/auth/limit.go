package auth

import (
	"context"
	"fmt"
	"time"
)

// DefaultHashWait is how long a password check waits for a free slot
// when [Options.HashWait] is 0.
const DefaultHashWait = 2 * time.Second

// BusyError is the error of a call that needed a bcrypt computation while
// [Options.MaxHashes] of them were running and none ended within
// [Options.HashWait]. It matches [ErrBusy]; RetryAfter is a suggestion
// for the client.
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", ErrBusy, e.RetryAfter)
}

// Unwrap returns ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

// HashSlot waits for one of the [Options.MaxHashes] slots of bcrypt
// computation and returns the function that frees it. Every bcrypt
// computation of s holds one; a caller that computes other expensive
// hashes may share the bound. It waits at most [Options.HashWait], then
// returns a [*BusyError]; it returns ctx's error if ctx ends first.
func (s *Users) HashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
		return s.freeSlot, nil
	default:
	}
	t := time.NewTimer(s.hashWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return s.freeSlot, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: waiting to check a password: %w", ctx.Err())
	case <-t.C:
		return nil, &BusyError{RetryAfter: s.retryAfter()}
	}
}

func (s *Users) freeSlot() { <-s.slots }

// retryAfter is the wait suggested to a client refused for lack of a
// slot: long enough for the queue to drain, at least a second.
func (s *Users) retryAfter() time.Duration {
	return max(time.Second, 2*s.hashWait).Round(time.Second)
}
