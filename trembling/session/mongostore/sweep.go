package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/trembling/session"
)

// chain is what the sweep knows of one session's documents.
type chain struct {
	head     *meta
	versions map[int64]meta
}

type meta struct {
	id      string
	n       int64
	expires time.Time
	deleted bool
	at      time.Time
}

// DeleteExpired removes the sessions whose latest version is expired or a
// tombstone, heads first, and the old versions no one can need any more
// (see the package doc). It reads the whole collection.
func (s *Store) DeleteExpired(ctx context.Context) error {
	now := s.now()
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "sid", Value: 1}, {Key: "v", Value: 1}, {Key: "idleExpires", Value: 1},
		{Key: "absoluteExpires", Value: 1}, {Key: "deleted", Value: 1}, {Key: "at", Value: 1},
	}))
	if err != nil {
		return fmt.Errorf("mongostore: deleting expired sessions: %w", err)
	}
	chains := map[string]*chain{}
	for cur.Next(ctx) {
		raw := cur.Current
		id, _ := raw.Lookup("_id").StringValueOK()
		sid, ok := raw.Lookup("sid").StringValueOK()
		if !ok {
			sid = id // a head written before versions existed
		}
		m := meta{id: id}
		m.n, _ = raw.Lookup("v").AsInt64OK()
		idle, _ := raw.Lookup("idleExpires").TimeOK()
		abs, _ := raw.Lookup("absoluteExpires").TimeOK()
		m.expires = session.Record{IdleExpires: idle, AbsoluteExpires: abs}.Expires()
		m.deleted, _ = raw.Lookup("deleted").BooleanOK()
		m.at, _ = raw.Lookup("at").TimeOK()
		c := chains[sid]
		if c == nil {
			c = &chain{versions: map[int64]meta{}}
			chains[sid] = c
		}
		if id == sid {
			c.head = &m
		} else {
			c.versions[m.n] = m
		}
	}
	if err := cur.Err(); err != nil {
		cur.Close(ctx)
		return fmt.Errorf("mongostore: deleting expired sessions: %w", err)
	}
	cur.Close(ctx)

	var del []string
	for sid, c := range chains {
		del = append(del, c.obsolete(sid, now)...)
	}
	for _, id := range del {
		if _, err := s.coll.DeleteOne(ctx, byID(id)); err != nil {
			return fmt.Errorf("mongostore: deleting expired sessions: %w", err)
		}
		s.cache.drop(id)
	}
	return nil
}

// obsolete returns the _ids of c's documents to remove at now, head first.
func (c *chain) obsolete(sid string, now time.Time) []string {
	var ids []string
	latest := meta{n: -1}
	if c.head != nil {
		latest = *c.head
	}
	for _, v := range c.versions {
		if v.n > latest.n {
			latest = v
		}
	}
	old := now.Add(-Grace)
	switch {
	case c.head == nil:
		// Versions left by a removal (or by a writer that lost to it):
		// invisible without a head.
		if latest.at.Before(old) || !now.Before(latest.expires) || latest.deleted {
			for _, v := range c.versions {
				ids = append(ids, v.id)
			}
		}
	case latest.deleted || !now.Before(latest.expires):
		ids = append(ids, sid)
		for _, v := range c.versions {
			ids = append(ids, v.id)
		}
	case c.head.at.Before(old):
		for _, v := range c.versions {
			if v.n <= c.head.n && v.n < latest.n && v.at.Before(old) {
				ids = append(ids, v.id)
			}
		}
	}
	return ids
}

// Count returns the number of sessions stored (heads), expired ones
// included, users' indexes not. It reads the whole collection.
func (s *Store) Count(ctx context.Context) (int, error) {
	n, err := s.coll.CountDocuments(ctx, bson.D{
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "v", Value: int64(0)}},
			bson.D{{Key: "v", Value: bson.D{{Key: "$exists", Value: false}}}},
		}},
		{Key: "index", Value: bson.D{{Key: "$exists", Value: false}}},
	})
	if err != nil {
		return 0, fmt.Errorf("mongostore: counting sessions: %w", err)
	}
	return int(n), nil
}

// EnsureIndexes creates a TTL index on expiresAt (the absolute expiry)
// where the server has them. The embedded engine has none: it is told at
// Debug level, and expired sessions are removed by [Store.Sweep] alone.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expiresAt", Value: 1}},
		Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0),
	})
	if err == nil {
		return nil
	}
	var se mongo.ServerError
	if ctx.Err() != nil || !errors.As(err, &se) {
		return fmt.Errorf("mongostore: creating TTL index on %s.expiresAt: %w", Collection, err)
	}
	s.log().Debug("mongostore: no TTL index on this server; the sweep removes expired sessions", "err", err)
	return nil
}

// Sweep removes expired sessions every interval until ctx is done (see
// [session.Sweep]). It blocks; run it in its own goroutine.
func (s *Store) Sweep(ctx context.Context, every time.Duration) {
	session.Sweep(ctx, s, every, s.log())
}
