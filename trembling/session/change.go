package session

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// DefaultMaxSize is the default limit on a session's stored size: 64 KiB
// of data in its canonical encoding.
const DefaultMaxSize = 64 << 10

// ErrTooLarge is wrapped by the error that saving a session returns when
// its data would exceed the size limit. Nothing is written then.
var ErrTooLarge = errors.New("session: session too large")

// A Change is what one request did to a stored session: the keys it set
// or removed, the items it pushed onto or pulled from list-valued keys,
// and its new idle expiry. [Store.Update] applies it to the latest stored
// version of the session, not to the version the request loaded, so that
// concurrent requests on one session merge: two requests that change
// different keys both keep their changes, and items pushed by parallel
// requests all arrive. Two requests that set the same key: the one
// applied last wins.
type Change struct {
	// Set holds the keys the request set, with their whole new values
	// (a change deep inside a value sets its key).
	Set map[string]any
	// Unset holds the keys the request removed.
	Unset []string
	// Push holds items to append to the list under each key (created when
	// absent; a non-list value there is replaced by a new list).
	Push map[string][]any
	// Pull holds items to remove from the list under each key: every item
	// equal to one of them (compared by canonical encoding) goes. A key
	// whose list becomes empty is removed.
	Pull map[string][]any
	// IdleExpires is the session's new idle expiry; the zero time keeps
	// the stored one. It is never moved past the absolute expiry.
	IdleExpires time.Time
	// MaxSize limits the size of the data after the change, in bytes of
	// its canonical encoding; 0 means no limit.
	MaxSize int
}

// IsZero reports whether c changes nothing.
func (c Change) IsZero() bool {
	return len(c.Set) == 0 && len(c.Unset) == 0 && len(c.Push) == 0 && len(c.Pull) == 0 && c.IdleExpires.IsZero()
}

// Apply returns the record r with c applied, sharing nothing with r or c.
// It fails with an error wrapping [ErrTooLarge] when the result is over
// c.MaxSize, and with a *[ValueError] for a value sessions cannot keep.
// Every store merges with Apply, so the rule is the same everywhere.
func (c Change) Apply(r Record) (Record, error) {
	out := r
	out.Data = CloneData(r.Data)
	for _, k := range c.Unset {
		delete(out.Data, k)
	}
	for k, v := range c.Set {
		out.Data[k] = cloneValue(v, 0)
	}
	for k, items := range c.Pull {
		list, ok := out.Data[k].([]any)
		if !ok {
			continue
		}
		drop := make([][]byte, 0, len(items))
		for _, it := range items {
			enc, err := encodeValue(k, it)
			if err != nil {
				return Record{}, err
			}
			drop = append(drop, enc)
		}
		kept := list[:0:0]
		for _, it := range list {
			enc, err := encodeValue(k, it)
			if err == nil && containsBytes(drop, enc) {
				continue
			}
			kept = append(kept, it)
		}
		if len(kept) == 0 {
			delete(out.Data, k)
		} else {
			out.Data[k] = kept
		}
	}
	for k, items := range c.Push {
		list, _ := out.Data[k].([]any)
		for _, it := range items {
			list = append(list, cloneValue(it, 0))
		}
		out.Data[k] = list
	}
	if !c.IdleExpires.IsZero() {
		out.IdleExpires = earlier(c.IdleExpires, out.AbsoluteExpires)
	}
	if err := CheckSize(out.Data, c.MaxSize); err != nil {
		return Record{}, err
	}
	return out, nil
}

// CheckSize returns an error wrapping [ErrTooLarge] when data's canonical
// encoding is longer than max bytes (no limit when max <= 0), and a
// *[ValueError] for data [CheckValue] refuses.
func CheckSize(data map[string]any, max int) error {
	enc, err := appendData(nil, data)
	if err != nil {
		return err
	}
	if max > 0 && len(enc) > max {
		return fmt.Errorf("session: the session would hold %d bytes, over the session size limit of %d bytes; store less in it: %w",
			len(enc), max, ErrTooLarge)
	}
	return nil
}

// encodeValue returns the canonical encoding of v, found under key.
func encodeValue(key string, v any) ([]byte, error) {
	b, e := appendValue(nil, v, 0)
	if e != nil {
		return nil, e.finish(key)
	}
	return b, nil
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}
