package mongostore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/aspengo/aspengo/trembling/session"
)

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
