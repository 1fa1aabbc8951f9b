package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// maxNamespaceLen is the longest "database.collection" MongoDB accepts.
const maxNamespaceLen = 255

// A Handle is a database as Starlark code sees it: db.todos and
// db["todos"] are its collections. It is immutable and safe for
// concurrent use, so one handle (website.db) serves every request.
type Handle struct {
	db      *mongo.Database
	timeout time.Duration
}

var (
	_ starlark.HasAttrs = (*Handle)(nil)
	_ starlark.Mapping  = (*Handle)(nil)
)

// NewHandle returns a handle on db whose operations are each limited to
// timeout (DefaultTimeout when timeout <= 0). Connector.Handle is the usual
// way to get one; NewHandle serves tests and programs with their own
// client.
func NewHandle(db *mongo.Database, timeout time.Duration) *Handle {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Handle{db: db, timeout: timeout}
}

// Database returns the driver's database, for Go code that shares it
// (trembling's session and user stores).
func (h *Handle) Database() *mongo.Database { return h.db }

// Name returns the database name.
func (h *Handle) Name() string { return h.db.Name() }

// String returns "<database NAME>".
func (h *Handle) String() string { return "<database " + h.db.Name() + ">" }

// Type returns "database".
func (h *Handle) Type() string { return "database" }

// Freeze does nothing: a Handle is immutable.
func (h *Handle) Freeze() {}

// Truth is True.
func (h *Handle) Truth() starlark.Bool { return starlark.True }

// Hash fails: handles are not hashable.
func (h *Handle) Hash() (uint32, error) { return 0, errors.New("unhashable type: database") }

// TemplateValue gives the database name to templates.
func (h *Handle) TemplateValue() any { return h.db.Name() }

// Attr returns the collection name (db.todos).
func (h *Handle) Attr(name string) (starlark.Value, error) { return h.collection(name) }

// AttrNames returns nil: listing collections would need the server.
func (h *Handle) AttrNames() []string { return nil }

// Get returns the collection named by k (db["todos"]).
func (h *Handle) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := k.(starlark.String)
	if !ok {
		return nil, false, fmt.Errorf("database: collection name must be str, not %s", k.Type())
	}
	c, err := h.collection(string(name))
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

func (h *Handle) collection(name string) (*collection, error) {
	if err := validateCollectionName(h.db.Name(), name); err != nil {
		return nil, err
	}
	return &collection{h: h, coll: h.db.Collection(name)}, nil
}

// validateCollectionName refuses names MongoDB refuses or reserves.
func validateCollectionName(db, name string) error {
	switch {
	case name == "":
		return errors.New("empty collection name")
	case strings.Contains(name, "$"):
		return fmt.Errorf("collection name %q contains $", name)
	case strings.Contains(name, "\x00"):
		return fmt.Errorf("collection name %q contains a NUL byte", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("collection name %q is reserved (system.)", name)
	case len(db)+1+len(name) > maxNamespaceLen:
		return fmt.Errorf("collection name %.20q... is too long", name)
	}
	return nil
}

// context returns the context of an operation run by thread: the context
// of the request the thread serves, else context.Background, limited to
// the handle's timeout.
func (h *Handle) context(thread *starlark.Thread) (context.Context, context.CancelFunc) {
	return context.WithTimeout(simplate.Context(thread), h.timeout)
}

// ---------------------------------------------------------------------------
// collection

// collection is db.<name>, with the CRUD methods.
type collection struct {
	h    *Handle
	coll *mongo.Collection
}

var _ starlark.HasAttrs = (*collection)(nil)

var collectionMethods = map[string]*starlark.Builtin{
	"find":       starlark.NewBuiltin("find", collFind),
	"find_one":   starlark.NewBuiltin("find_one", collFindOne),
	"insert_one": starlark.NewBuiltin("insert_one", collInsertOne),
	"update_one": starlark.NewBuiltin("update_one", collUpdateOne),
	"delete_one": starlark.NewBuiltin("delete_one", collDeleteOne),
	"count":      starlark.NewBuiltin("count", collCount),
}

func (c *collection) String() string {
	return "<collection " + c.h.db.Name() + "." + c.coll.Name() + ">"
}
func (c *collection) Type() string          { return "collection" }
func (c *collection) Freeze()               {}
func (c *collection) Truth() starlark.Bool  { return starlark.True }
func (c *collection) Hash() (uint32, error) { return 0, errors.New("unhashable type: collection") }
func (c *collection) TemplateValue() any    { return c.coll.Name() }

func (c *collection) Attr(name string) (starlark.Value, error) {
	if name == "name" {
		return starlark.String(c.coll.Name()), nil
	}
	if m, ok := collectionMethods[name]; ok {
		return m.BindReceiver(c), nil
	}
	return nil, nil
}

func (c *collection) AttrNames() []string {
	return []string{"count", "delete_one", "find", "find_one", "insert_one", "name", "update_one"}
}

// op names an operation in errors: "todos.find".
func op(b *starlark.Builtin) string {
	return b.Receiver().(*collection).coll.Name() + "." + b.Name()
}

// filterArg converts and checks a filter argument (None means {}).
func filterArg(v starlark.Value) (bson.D, error) {
	if v == nil || v == starlark.None {
		return bson.D{}, nil
	}
	return requiredFilterArg(v)
}

// requiredFilterArg converts and checks the filter of update_one and
// delete_one, which must be a dict: None is refused, so that a missing
// value does not silently match any document.
func requiredFilterArg(v starlark.Value) (bson.D, error) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("filter must be a dict, not %s", v.Type())
	}
	f, err := dictToBSON(d, 0)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if err := checkFilter(f, 0); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return f, nil
}

// sortArg converts a sort argument: None; a field name, "-name" for
// descending; one (field, 1|-1) pair; a list (or tuple) whose items are
// such names or pairs; or a dict of field → 1|-1, in its order.
func sortArg(v starlark.Value) (bson.D, error) {
	var s bson.D
	add := func(field string, dir int) error {
		if err := checkPath(field); err != nil {
			return err
		}
		if dir != 1 && dir != -1 {
			return fmt.Errorf("direction of %q must be 1 or -1, not %d", field, dir)
		}
		s = append(s, bson.E{Key: field, Value: int32(dir)})
		return nil
	}
	addName := func(name string) error {
		if rest, ok := strings.CutPrefix(name, "-"); ok {
			return add(rest, -1)
		}
		return add(name, 1)
	}
	addPair := func(field, dir starlark.Value) error {
		f, ok := field.(starlark.String)
		if !ok {
			return fmt.Errorf("field must be str, not %s", field.Type())
		}
		var d int
		if err := starlark.AsInt(dir, &d); err != nil {
			return fmt.Errorf("direction of %q must be 1 or -1, not %s", f, dir.String())
		}
		return add(string(f), d)
	}
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case starlark.String:
		return s, addName(string(v))
	case *starlark.Dict:
		for k, d := range v.Entries() {
			if err := addPair(k, d); err != nil {
				return nil, err
			}
		}
		return s, nil
	case starlark.Indexable: // list, tuple
		if _, isSeq := v.(starlark.Sequence); !isSeq {
			break
		}
		if v.Len() == 2 {
			if _, isInt := v.Index(1).(starlark.Int); isInt {
				return s, addPair(v.Index(0), v.Index(1)) // one pair: ("title", -1)
			}
		}
		for i := range v.Len() {
			switch item := v.Index(i).(type) {
			case starlark.String:
				if err := addName(string(item)); err != nil {
					return nil, err
				}
			case starlark.Indexable:
				if item.Len() != 2 {
					return nil, fmt.Errorf("sort item %s is not a (field, direction) pair", item)
				}
				if err := addPair(item.Index(0), item.Index(1)); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("sort item must be a field name or a (field, direction) pair, not %s", item.Type())
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("sort must be a field name, a list of names or (field, direction) pairs, or a dict, not %s", v.Type())
}

// collFind is find(filter={}, sort=None, limit=0, skip=0) → list of dicts.
func collFind(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := b.Receiver().(*collection)
	var filter, sortV starlark.Value = starlark.None, starlark.None
	var limit, skip int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filter?", &filter, "sort?", &sortV, "limit?", &limit, "skip?", &skip); err != nil {
		return nil, err
	}
	f, err := filterArg(filter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op(b), err)
	}
	s, err := sortArg(sortV)
	if err != nil {
		return nil, fmt.Errorf("%s: sort: %w", op(b), err)
	}
	if limit < 0 || skip < 0 {
		return nil, fmt.Errorf("%s: limit and skip must not be negative", op(b))
	}
	opts := options.Find()
	if s != nil {
		opts.SetSort(s)
	}
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	if skip > 0 {
		opts.SetSkip(int64(skip))
	}

	ctx, cancel := c.h.context(thread)
	defer cancel()
	cur, err := c.coll.Find(ctx, f, opts)
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	defer cur.Close(ctx) //nolint:errcheck // the results are read; a failed close only leaks a server cursor until it times out
	var docs []starlark.Value
	for cur.Next(ctx) {
		d, err := rawDocument(cur.Current, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op(b), err)
		}
		docs = append(docs, d)
	}
	if err := cur.Err(); err != nil {
		return nil, wrapError(op(b), err)
	}
	return starlark.NewList(docs), nil
}

// filterOnlyArgs unpacks the arguments of a method whose only parameter
// is filter={}, checking the filter.
func filterOnlyArgs(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*collection, bson.D, error) {
	var filter starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filter?", &filter); err != nil {
		return nil, nil, err
	}
	f, err := filterArg(filter)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op(b), err)
	}
	return b.Receiver().(*collection), f, nil
}

// collFindOne is find_one(filter={}) → dict or None.
func collFindOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c, f, err := filterOnlyArgs(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.h.context(thread)
	defer cancel()
	raw, err := c.coll.FindOne(ctx, f).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return starlark.None, nil
	}
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	d, err := rawDocument(raw, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op(b), err)
	}
	return d, nil
}

// collInsertOne is insert_one(doc) → the document's _id (a new ObjectId
// unless doc has one). doc itself is not changed.
func collInsertOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := b.Receiver().(*collection)
	var doc *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "doc", &doc); err != nil {
		return nil, err
	}
	d, err := dictToBSON(doc, 0)
	if err == nil {
		err = checkDocument(d)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: document: %w", op(b), err)
	}
	id, hasID := starlark.Value(nil), false
	for _, e := range d {
		if e.Key == "_id" {
			hasID = true
			break
		}
	}
	if !hasID {
		oid := bson.NewObjectID()
		d = append(bson.D{{Key: "_id", Value: oid}}, d...)
		id = ObjectID(oid)
	}
	ctx, cancel := c.h.context(thread)
	defer cancel()
	res, err := c.coll.InsertOne(ctx, d)
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	if id == nil {
		if id, err = FromBSON(res.InsertedID); err != nil {
			return nil, fmt.Errorf("%s: _id: %w", op(b), err)
		}
	}
	return id, nil
}

// collUpdateOne is update_one(filter, update) → number of documents
// modified (0 or 1).
func collUpdateOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := b.Receiver().(*collection)
	var filter starlark.Value
	var update *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filter", &filter, "update", &update); err != nil {
		return nil, err
	}
	f, err := requiredFilterArg(filter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op(b), err)
	}
	u, err := dictToBSON(update, 0)
	if err == nil {
		err = checkUpdate(u)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: update: %w", op(b), err)
	}
	ctx, cancel := c.h.context(thread)
	defer cancel()
	res, err := c.coll.UpdateOne(ctx, f, u)
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	return starlark.MakeInt64(res.ModifiedCount), nil
}

// collDeleteOne is delete_one(filter) → number of documents deleted (0 or
// 1).
func collDeleteOne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := b.Receiver().(*collection)
	var filter starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filter", &filter); err != nil {
		return nil, err
	}
	f, err := requiredFilterArg(filter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op(b), err)
	}
	ctx, cancel := c.h.context(thread)
	defer cancel()
	res, err := c.coll.DeleteOne(ctx, f)
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	return starlark.MakeInt64(res.DeletedCount), nil
}

// collCount is count(filter={}) → int.
func collCount(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c, f, err := filterOnlyArgs(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.h.context(thread)
	defer cancel()
	n, err := c.coll.CountDocuments(ctx, f)
	if err != nil {
		return nil, wrapError(op(b), err)
	}
	return starlark.MakeInt64(n), nil
}
