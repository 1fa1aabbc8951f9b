package trembling

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aspengo/aspengo/trembling/session"
)

// boundedStore limits each call of a store to a timeout and turns its
// failures into *StoreError.
type boundedStore struct {
	s       session.Store
	timeout time.Duration
}

func (b *boundedStore) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return &StoreError{Op: op, Err: err}
}

func (b *boundedStore) Find(ctx context.Context, id string) (session.Record, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	r, found, err := b.s.Find(ctx, id)
	return r, found, b.fail("find", err)
}

func (b *boundedStore) Create(ctx context.Context, id string, r session.Record) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.fail("create", b.s.Create(ctx, id, r))
}

func (b *boundedStore) Update(ctx context.Context, id string, c session.Change) (session.Record, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	r, ok, err := b.s.Update(ctx, id, c)
	if errors.Is(err, session.ErrTooLarge) {
		return r, ok, err // the request's fault, not the store's
	}
	return r, ok, b.fail("update", err)
}

func (b *boundedStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.fail("delete", b.s.Delete(ctx, id))
}

func (b *boundedStore) DeleteExpired(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.fail("delete expired", b.s.DeleteExpired(ctx))
}

// Count returns the number of records of a store that can count them
// (memstore, mongostore), expired ones included; it serves tests and
// monitoring.
func (b *boundedStore) Count(ctx context.Context) (int, error) {
	c, ok := b.s.(interface {
		Count(context.Context) (int, error)
	})
	if !ok {
		return 0, fmt.Errorf("trembling: the session store cannot count its records")
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	n, err := c.Count(ctx)
	return n, b.fail("count", err)
}

var _ session.UserIndex = (*boundedStore)(nil)

// index returns the store as a session.UserIndex, or session.ErrNoUserIndex.
func (b *boundedStore) index() (session.UserIndex, error) {
	ix, ok := b.s.(session.UserIndex)
	if !ok {
		return nil, session.ErrNoUserIndex
	}
	return ix, nil
}

func (b *boundedStore) AddUserSession(ctx context.Context, user, id string, expires time.Time) error {
	ix, err := b.index()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.fail("index session", ix.AddUserSession(ctx, user, id, expires))
}

func (b *boundedStore) RemoveUserSession(ctx context.Context, user, id string) error {
	ix, err := b.index()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.fail("unindex session", ix.RemoveUserSession(ctx, user, id))
}

func (b *boundedStore) UserSessions(ctx context.Context, user string) ([]string, error) {
	ix, err := b.index()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	ids, err := ix.UserSessions(ctx, user)
	return ids, b.fail("list user sessions", err)
}
