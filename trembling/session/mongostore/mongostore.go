// Package mongostore is a [session.Store] that keeps sessions in the
// MongoDB collection "sessions", through the official Go driver (v2).
//
// Each record is a document
//
//	{_id: <session.Hash of the token>, data: {...},
//	 created: <date>, idleExpires: <date>, absoluteExpires: <date>,
//	 expiresAt: <date, the earlier of the two expiries>}
//
// Session data is a BSON document: int64 as "long", float64 as "double",
// lists as arrays, maps as embedded documents. Keys are escaped so that
// any string is a valid field name: '%' is written %25, '.' %2E, '$' %24
// and NUL %00, and the empty key is written as a lone '%'. A list directly
// inside a list is written as a document {"%L": [...]}, since the
// embedded engine refuses nested arrays; no escaped key is "%L", so the
// form is unambiguous. Integers that another writer stored as 32-bit read
// back as int64.
//
// [Store.EnsureIndexes] creates a TTL index on expiresAt, so that MongoDB
// removes expired sessions itself; an engine without TTL indexes (the
// embedded FerretDB) gets a plain index instead, and [Store.Sweep]
// removes expired sessions periodically. Either way, Find and Update
// ignore expired documents, so an expired session is never used.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/trembling/session"
)

// Collection is the name of the collection sessions are kept in.
const Collection = "sessions"

// Store is a MongoDB session store. It is safe for concurrent use.
type Store struct {
	// Now returns the current time for expiry checks; nil means time.Now.
	// Set it before first use.
	Now func() time.Time
	// Logger receives what EnsureIndexes and Sweep report; nil means
	// slog.Default(). Set it before first use.
	Logger *slog.Logger

	coll *mongo.Collection
}

var _ session.Store = (*Store)(nil)

// New returns a store using the collection "sessions" of db. Call
// [Store.EnsureIndexes] once at startup.
func New(db *mongo.Database) *Store {
	return &Store{coll: db.Collection(Collection)}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// live is the filter of the live document with id.
func (s *Store) live(id string) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: s.now()}}}}
}

// fields returns r's fields as stored, without _id.
func fields(r session.Record) bson.D {
	return bson.D{
		{Key: "data", Value: encodeDoc(r.Data)},
		{Key: "created", Value: r.Created},
		{Key: "idleExpires", Value: r.IdleExpires},
		{Key: "absoluteExpires", Value: r.AbsoluteExpires},
		{Key: "expiresAt", Value: r.Expires()},
	}
}

// Find returns the live record stored under id.
func (s *Store) Find(ctx context.Context, id string) (session.Record, bool, error) {
	raw, err := s.coll.FindOne(ctx, s.live(id)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return session.Record{}, false, nil
	}
	if err != nil {
		return session.Record{}, false, fmt.Errorf("mongostore: finding session: %w", err)
	}
	r, err := decodeRecord(raw)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("mongostore: session %.8s…: %w", id, err)
	}
	return r, true, nil
}

// Create inserts r under id. A document with that id that has expired
// but is not yet removed is replaced.
func (s *Store) Create(ctx context.Context, id string, r session.Record) error {
	doc := append(bson.D{{Key: "_id", Value: id}}, fields(r)...)
	_, err := s.coll.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: creating session: %w", err)
	}
	res, rerr := s.coll.ReplaceOne(ctx, bson.D{
		{Key: "_id", Value: id},
		{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: s.now()}}},
	}, doc)
	if rerr != nil {
		return fmt.Errorf("mongostore: creating session: %w", rerr)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongostore: creating session: %w", session.ErrExists)
	}
	return nil
}

// Update sets the fields of the live document with id to r's, in one
// UpdateOne without upsert: it reports false when no live document
// matched, so that a deleted session is never recreated.
func (s *Store) Update(ctx context.Context, id string, r session.Record) (bool, error) {
	res, err := s.coll.UpdateOne(ctx, s.live(id), bson.D{{Key: "$set", Value: fields(r)}})
	if err != nil {
		return false, fmt.Errorf("mongostore: updating session: %w", err)
	}
	return res.MatchedCount > 0, nil
}

// Delete removes the document with id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("mongostore: deleting session: %w", err)
	}
	return nil
}

// DeleteExpired removes every document whose expiresAt has passed.
func (s *Store) DeleteExpired(ctx context.Context) error {
	_, err := s.coll.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: s.now()}}}})
	if err != nil {
		return fmt.Errorf("mongostore: deleting expired sessions: %w", err)
	}
	return nil
}

// Count returns the number of session documents, expired ones included.
func (s *Store) Count(ctx context.Context) (int, error) {
	n, err := s.coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("mongostore: counting sessions: %w", err)
	}
	return int(n), nil
}

// EnsureIndexes creates the index on expiresAt: a TTL index where the
// server supports one, else (the embedded engine) a plain index, which
// it reports at Info level; then the store relies on [Store.Sweep].
func (s *Store) EnsureIndexes(ctx context.Context) error {
	keys := bson.D{{Key: "expiresAt", Value: 1}}
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    keys,
		Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0),
	})
	if err == nil {
		return nil
	}
	var se mongo.ServerError
	if ctx.Err() != nil || !errors.As(err, &se) {
		return fmt.Errorf("mongostore: creating TTL index on %s.expiresAt: %w", Collection, err)
	}
	s.log().Info("mongostore: no TTL index; expired sessions are removed by the sweeper", "err", err)
	_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    keys,
		Options: options.Index().SetName("expiresAt"),
	})
	if err != nil {
		return fmt.Errorf("mongostore: creating index on %s.expiresAt: %w", Collection, err)
	}
	return nil
}

// Sweep removes expired sessions every interval until ctx is done (see
// [session.Sweep]). It blocks; run it in its own goroutine.
func (s *Store) Sweep(ctx context.Context, every time.Duration) {
	session.Sweep(ctx, s, every, s.log())
}

func decodeRecord(raw bson.Raw) (session.Record, error) {
	var r session.Record
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{
		{"created", &r.Created},
		{"idleExpires", &r.IdleExpires},
		{"absoluteExpires", &r.AbsoluteExpires},
	} {
		t, ok := raw.Lookup(f.name).TimeOK()
		if !ok {
			return session.Record{}, fmt.Errorf("field %s is not a date", f.name)
		}
		*f.dst = t.UTC()
	}
	doc, ok := raw.Lookup("data").DocumentOK()
	if !ok {
		return session.Record{}, fmt.Errorf("field data is not a document")
	}
	data, err := decodeDoc(doc, 0)
	if err != nil {
		return session.Record{}, fmt.Errorf("data%w", err)
	}
	r.Data = data
	return r, nil
}

// maxDepth bounds the nesting read back, as session.CheckValue bounds
// what is written.
const maxDepth = 100

func encodeDoc(m map[string]any) bson.D {
	d := make(bson.D, 0, len(m))
	for k, v := range m {
		d = append(d, bson.E{Key: escapeKey(k), Value: encodeValue(v)})
	}
	slices.SortFunc(d, func(a, b bson.E) int { return strings.Compare(a.Key, b.Key) })
	return d
}

// listKey is the key of the document that wraps a list inside a list.
const listKey = "%L"

func encodeValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return encodeDoc(v)
	case []any:
		return encodeList(v)
	}
	return v
}

func encodeList(l []any) bson.A {
	a := make(bson.A, len(l))
	for i, x := range l {
		if inner, ok := x.([]any); ok {
			a[i] = bson.D{{Key: listKey, Value: encodeList(inner)}}
			continue
		}
		a[i] = encodeValue(x)
	}
	return a
}

func decodeDoc(doc bson.Raw, depth int) (map[string]any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf(": nested too deep")
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, fmt.Errorf(": %w", err)
	}
	m := make(map[string]any, len(elems))
	for _, e := range elems {
		k, err := unescapeKey(e.Key())
		if err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		v, err := decodeValue(e.Value(), depth)
		if err != nil {
			return nil, fmt.Errorf("[%q]%w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

func decodeValue(v bson.RawValue, depth int) (any, error) {
	switch v.Type {
	case bson.TypeNull:
		return nil, nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeInt32:
		return int64(v.Int32()), nil
	case bson.TypeInt64:
		return v.Int64(), nil
	case bson.TypeDouble:
		return v.Double(), nil
	case bson.TypeEmbeddedDocument:
		return decodeDoc(v.Document(), depth+1)
	case bson.TypeArray:
		if depth > maxDepth {
			return nil, fmt.Errorf(": nested too deep")
		}
		vals, err := v.Array().Values()
		if err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		a := make([]any, len(vals))
		for i, x := range vals {
			if inner, ok := wrappedList(x); ok {
				x = inner
			}
			if a[i], err = decodeValue(x, depth+1); err != nil {
				return nil, fmt.Errorf("[%d]%w", i, err)
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf(": BSON %s is not a session value", v.Type)
}

// wrappedList returns the list that v wraps, when v is {"%L": [...]}.
func wrappedList(v bson.RawValue) (bson.RawValue, bool) {
	doc, ok := v.DocumentOK()
	if !ok {
		return bson.RawValue{}, false
	}
	elems, err := doc.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != listKey {
		return bson.RawValue{}, false
	}
	inner := elems[0].Value()
	return inner, inner.Type == bson.TypeArray
}

// escapeKey makes k a field name that every server accepts.
func escapeKey(k string) string {
	if k == "" {
		return "%"
	}
	if !strings.ContainsAny(k, "%.$\x00") {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; c {
		case '%', '.', '$', 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeKey undoes escapeKey.
func unescapeKey(k string) (string, error) {
	if k == "%" {
		return "", nil
	}
	if !strings.Contains(k, "%") {
		return k, nil
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] != '%' {
			b.WriteByte(k[i])
			continue
		}
		if i+3 > len(k) {
			return "", fmt.Errorf("bad escape in key %q", k)
		}
		c, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in key %q", k)
		}
		b.WriteByte(byte(c))
		i += 2
	}
	return b.String(), nil
}
