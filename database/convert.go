package database

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// maxDepth is how deeply documents and arrays may nest, as in MongoDB
// (100 levels). It also stops a list that contains itself.
const maxDepth = 100

// convError is a conversion error at a position inside a value.
type convError struct {
	path string // "tags[2].name", or "" at the top
	msg  string
}

func (e *convError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return fmt.Sprintf("%s: %s", e.path, e.msg)
}

// at prefixes the position of a nested error with seg, a key or "[i]".
func at(seg string, err error) error {
	var ce *convError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.path == "":
		ce.path = seg
	case ce.path[0] == '[':
		ce.path = seg + ce.path
	default:
		ce.path = seg + "." + ce.path
	}
	return ce
}

func convErrorf(format string, args ...any) error {
	return &convError{msg: fmt.Sprintf(format, args...)}
}

// ToBSON converts a Starlark value to the Go value the driver stores:
//
//	None           → nil (BSON null)
//	bool           → bool
//	int            → int32 when it fits, else int64; larger ints are an error
//	float          → float64 (BSON double)
//	str            → string (must be valid UTF-8)
//	bytes          → bson.Binary, generic subtype 0
//	list, tuple    → bson.A
//	dict           → bson.D in the dict's order; keys must be str
//	ObjectId       → bson.ObjectID
//	time.time      → bson.DateTime (milliseconds since the epoch: the
//	                 sub-millisecond part is dropped)
//
// Any other value (a set, a function, a time.duration ...) is an error
// that names where it sits, as do non-string dict keys. Nesting is
// limited to 100 levels. ToBSON does not check field names or operators;
// the collection methods do (see the package documentation).
func ToBSON(v starlark.Value) (any, error) { return toBSON(v, 0) }

func toBSON(v starlark.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, convErrorf("nested deeper than %d levels (does a list or dict contain itself?)", maxDepth)
	}
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, convErrorf("int %s does not fit in 64 bits", v)
		}
		if i >= math.MinInt32 && i <= math.MaxInt32 {
			return int32(i), nil
		}
		return i, nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		if !utf8.ValidString(string(v)) {
			return nil, convErrorf("str is not valid UTF-8 (store bytes instead)")
		}
		return string(v), nil
	case starlark.Bytes:
		return bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: []byte(v)}, nil
	case ObjectID:
		return bson.ObjectID(v), nil
	case starlarktime.Time:
		return bson.NewDateTimeFromTime(time.Time(v)), nil
	case *starlark.List:
		a := make(bson.A, v.Len())
		for i := range a {
			x, err := toBSON(v.Index(i), depth+1)
			if err != nil {
				return nil, at("["+strconv.Itoa(i)+"]", err)
			}
			a[i] = x
		}
		return a, nil
	case starlark.Tuple:
		a := make(bson.A, len(v))
		for i, e := range v {
			x, err := toBSON(e, depth+1)
			if err != nil {
				return nil, at("["+strconv.Itoa(i)+"]", err)
			}
			a[i] = x
		}
		return a, nil
	case *starlark.Dict:
		return dictToBSON(v, depth)
	default:
		return nil, convErrorf("a %s cannot be stored in the database", v.Type())
	}
}

func dictToBSON(v *starlark.Dict, depth int) (bson.D, error) {
	d := make(bson.D, 0, v.Len())
	for k, x := range v.Entries() {
		key, ok := k.(starlark.String)
		if !ok {
			return nil, convErrorf("dict key %s is a %s: document keys must be str", k.String(), k.Type())
		}
		if !utf8.ValidString(string(key)) {
			return nil, convErrorf("dict key %s is not valid UTF-8", key.String())
		}
		bx, err := toBSON(x, depth+1)
		if err != nil {
			return nil, at(string(key), err)
		}
		d = append(d, bson.E{Key: string(key), Value: bx})
	}
	return d, nil
}

// FromBSON converts a value decoded by the driver to Starlark: nil,
// bson.Null and bson.Undefined → None; bool; int32, int64, int → int;
// float64 → float; string → str; bson.Binary of subtype 0 or 2 and []byte
// → bytes; bson.ObjectID → ObjectId; bson.DateTime and time.Time →
// time.time (in UTC); bson.D, bson.M, map[string]any, bson.Raw → dict
// (bson.M and maps in sorted key order); bson.A, []any, bson.RawArray →
// list; bson.RawValue by its type.
//
// Other BSON types (Decimal128, regular expressions, JavaScript,
// timestamps, MinKey/MaxKey, other binary subtypes ...) have no Starlark
// counterpart and are an error naming the field, rather than a string that
// would be written back as a different type.
func FromBSON(v any) (starlark.Value, error) { return fromBSON(v, 0) }

func fromBSON(v any, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, convErrorf("nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case nil, bson.Null, bson.Undefined:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case int32:
		return starlark.MakeInt64(int64(v)), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case float64:
		return starlark.Float(v), nil
	case string:
		return starlark.String(v), nil
	case []byte:
		return starlark.Bytes(v), nil
	case bson.Binary:
		return binaryValue(v.Subtype, v.Data)
	case bson.ObjectID:
		return ObjectID(v), nil
	case bson.DateTime:
		return starlarktime.Time(v.Time().UTC()), nil
	case time.Time:
		return starlarktime.Time(v.UTC()), nil
	case bson.D:
		d := starlark.NewDict(len(v))
		for _, e := range v {
			x, err := fromBSON(e.Value, depth+1)
			if err != nil {
				return nil, at(e.Key, err)
			}
			if err := d.SetKey(starlark.String(e.Key), x); err != nil {
				return nil, err
			}
		}
		return d, nil
	case bson.M:
		return mapValue(v, depth)
	case map[string]any:
		return mapValue(v, depth)
	case bson.A:
		return sliceValue(v, depth)
	case []any:
		return sliceValue(v, depth)
	case bson.Raw:
		return rawDocument(v, depth)
	case bson.RawArray:
		return rawArray(v, depth)
	case bson.RawValue:
		return rawValue(v, depth)
	default:
		return nil, convErrorf("Go value of type %T has no Starlark form", v)
	}
}

func mapValue(m map[string]any, depth int) (starlark.Value, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := starlark.NewDict(len(m))
	for _, k := range keys {
		x, err := fromBSON(m[k], depth+1)
		if err != nil {
			return nil, at(k, err)
		}
		if err := d.SetKey(starlark.String(k), x); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func sliceValue(s []any, depth int) (starlark.Value, error) {
	elems := make([]starlark.Value, len(s))
	for i, e := range s {
		x, err := fromBSON(e, depth+1)
		if err != nil {
			return nil, at("["+strconv.Itoa(i)+"]", err)
		}
		elems[i] = x
	}
	return starlark.NewList(elems), nil
}

func binaryValue(subtype byte, data []byte) (starlark.Value, error) {
	switch subtype {
	case bson.TypeBinaryGeneric, bson.TypeBinaryBinaryOld:
		return starlark.Bytes(data), nil
	}
	return nil, convErrorf("BSON binary of subtype %#02x is not supported (only generic binary data reads as bytes)", subtype)
}

// rawDocument converts a BSON document as the server sent it, keeping its
// field order, without decoding it into Go values first.
func rawDocument(r bson.Raw, depth int) (*starlark.Dict, error) {
	elems, err := r.Elements()
	if err != nil {
		return nil, fmt.Errorf("malformed BSON document: %w", err)
	}
	d := starlark.NewDict(len(elems))
	for _, e := range elems {
		key := e.Key()
		x, err := rawValue(e.Value(), depth+1)
		if err != nil {
			return nil, at(key, err)
		}
		if err := d.SetKey(starlark.String(key), x); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func rawArray(a bson.RawArray, depth int) (*starlark.List, error) {
	vals, err := a.Values()
	if err != nil {
		return nil, fmt.Errorf("malformed BSON array: %w", err)
	}
	elems := make([]starlark.Value, len(vals))
	for i, rv := range vals {
		x, err := rawValue(rv, depth+1)
		if err != nil {
			return nil, at("["+strconv.Itoa(i)+"]", err)
		}
		elems[i] = x
	}
	return starlark.NewList(elems), nil
}

func rawValue(rv bson.RawValue, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, convErrorf("nested deeper than %d levels", maxDepth)
	}
	switch rv.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return starlark.None, nil
	case bson.TypeBoolean:
		return starlark.Bool(rv.Boolean()), nil
	case bson.TypeInt32:
		return starlark.MakeInt64(int64(rv.Int32())), nil
	case bson.TypeInt64:
		return starlark.MakeInt64(rv.Int64()), nil
	case bson.TypeDouble:
		return starlark.Float(rv.Double()), nil
	case bson.TypeString:
		return starlark.String(rv.StringValue()), nil
	case bson.TypeBinary:
		subtype, data := rv.Binary()
		return binaryValue(subtype, data)
	case bson.TypeObjectID:
		return ObjectID(rv.ObjectID()), nil
	case bson.TypeDateTime:
		return starlarktime.Time(bson.DateTime(rv.DateTime()).Time().UTC()), nil
	case bson.TypeEmbeddedDocument:
		return rawDocument(rv.Document(), depth)
	case bson.TypeArray:
		return rawArray(rv.Array(), depth)
	default:
		return nil, convErrorf("BSON type %s is not supported", rv.Type)
	}
}

// ---------------------------------------------------------------------------
// ObjectId

// ObjectID is a MongoDB ObjectId as a Starlark value, of type "ObjectId".
// str(oid) is its 24 hexadecimal digits; ObjectIds compare equal when
// their bytes do, are ordered by their bytes (hence roughly by creation
// time), and are hashable, so they can be dict keys and set elements.
// In templates and JSON they appear as their hex string.
type ObjectID bson.ObjectID

var (
	_ starlark.TotallyOrdered = ObjectID{}
	_ starlark.HasAttrs       = ObjectID{}
)

// String returns the 24 hexadecimal digits.
func (id ObjectID) String() string { return hex.EncodeToString(id[:]) }

// Type returns "ObjectId".
func (id ObjectID) Type() string { return "ObjectId" }

// Freeze does nothing: an ObjectID is immutable.
func (id ObjectID) Freeze() {}

// Truth is True, as for every ObjectId.
func (id ObjectID) Truth() starlark.Bool { return starlark.True }

// Hash returns an FNV-1a hash of the bytes.
func (id ObjectID) Hash() (uint32, error) {
	h := uint32(2166136261)
	for _, b := range id {
		h ^= uint32(b)
		h *= 16777619
	}
	return h, nil
}

// Cmp compares the bytes of two ObjectIds.
func (id ObjectID) Cmp(y starlark.Value, depth int) (int, error) {
	o := y.(ObjectID)
	for i := range id {
		if id[i] != o[i] {
			if id[i] < o[i] {
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, nil
}

// Attr gives oid.time, the creation time encoded in the ObjectId (second
// precision), as a time.time.
func (id ObjectID) Attr(name string) (starlark.Value, error) {
	if name == "time" {
		return starlarktime.Time(bson.ObjectID(id).Timestamp().UTC()), nil
	}
	return nil, nil
}

// AttrNames lists the attributes.
func (id ObjectID) AttrNames() []string { return []string{"time"} }

// MarshalJSON encodes the ObjectId as its hex string (for Starlark's
// json.encode).
func (id ObjectID) MarshalJSON() ([]byte, error) { return []byte(`"` + id.String() + `"`), nil }

// TemplateValue returns the hex string, for templates (see
// simplate.TemplateValuer).
func (id ObjectID) TemplateValue() any { return id.String() }

// parseObjectID parses 24 hexadecimal digits (either case). Other input
// gives an *InvalidObjectIDError.
func parseObjectID(s string) (ObjectID, error) {
	oid, err := bson.ObjectIDFromHex(s)
	if err != nil {
		if len(s) > 64 {
			s = s[:64]
		}
		return ObjectID{}, &InvalidObjectIDError{Input: s}
	}
	return ObjectID(oid), nil
}

// ObjectIDBuiltin returns the Starlark builtin ObjectId: ObjectId(hex)
// parses an ObjectId from its 24 hexadecimal digits (malformed input is an
// *InvalidObjectIDError, hence a 400); ObjectId() makes a new one;
// ObjectId(oid) returns oid.
func ObjectIDBuiltin() *starlark.Builtin {
	return starlark.NewBuiltin("ObjectId", objectIDFn)
}

func objectIDFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0, &v); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return ObjectID(bson.NewObjectID()), nil
	case ObjectID:
		return v, nil
	case starlark.String:
		return parseObjectID(string(v))
	default:
		return nil, fmt.Errorf("%s: want a str of 24 hexadecimal digits, not %s", b.Name(), v.Type())
	}
}
