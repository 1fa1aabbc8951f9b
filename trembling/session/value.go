package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of session values, so that a value that
// contains itself is an error rather than a stack overflow.
const maxDepth = 64

// A ValueError reports a session value of a type sessions cannot keep.
type ValueError struct {
	// Path locates the value: the key, then list indexes and map keys,
	// as in cart[2]["name"].
	Path string
	// Reason says what is wrong with it.
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("session: %s: %s", e.Path, e.Reason)
}

// valueErr is a ValueError under construction: path elements are
// collected innermost first as the walk unwinds.
type valueErr struct {
	rev    []string
	reason string
}

func (e *valueErr) wrap(elem string) *valueErr {
	e.rev = append(e.rev, elem)
	return e
}

func (e *valueErr) finish(key string) *ValueError {
	var b strings.Builder
	b.WriteString(strconv.Quote(key))
	for i := len(e.rev) - 1; i >= 0; i-- {
		b.WriteString(e.rev[i])
	}
	return &ValueError{Path: b.String(), Reason: e.reason}
}

const allowed = "session values must be string, int64, float64, bool, nil, []any or map[string]any"

// CheckValue reports whether v may be stored in a session under key. It
// accepts string (valid UTF-8), int64, float64 (finite), bool, nil, []any
// and map[string]any (keys valid UTF-8) nested up to 64 levels, and
// returns a *[ValueError] naming the key and the path to the first value
// it refuses.
func CheckValue(key string, v any) error {
	if !utf8.ValidString(key) {
		return &ValueError{Path: strconv.Quote(key), Reason: "key is not valid UTF-8"}
	}
	if e := check(v, 0); e != nil {
		return e.finish(key)
	}
	return nil
}

func check(v any, depth int) *valueErr {
	if depth > maxDepth {
		return &valueErr{reason: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	switch v := v.(type) {
	case nil, bool, int64:
		return nil
	case string:
		if !utf8.ValidString(v) {
			return &valueErr{reason: "string is not valid UTF-8"}
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &valueErr{reason: fmt.Sprintf("float %v cannot be stored", v)}
		}
	case []any:
		for i, x := range v {
			if e := check(x, depth+1); e != nil {
				return e.wrap("[" + strconv.Itoa(i) + "]")
			}
		}
	case map[string]any:
		for k, x := range v {
			if !utf8.ValidString(k) {
				return &valueErr{reason: fmt.Sprintf("map key %q is not valid UTF-8", k)}
			}
			if e := check(x, depth+1); e != nil {
				return e.wrap("[" + strconv.Quote(k) + "]")
			}
		}
	default:
		return &valueErr{reason: fmt.Sprintf("type %T is not allowed; %s", v, allowed)}
	}
	return nil
}

// checkData checks every entry of a session's data.
func checkData(m map[string]any) error {
	for k, v := range m {
		if err := CheckValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// appendData appends the canonical encoding of session data to b: JSON
// with map keys sorted, no insignificant space, and every float64 written
// with a '.' or an exponent so that it reads back as a float64 while an
// int64 reads back as an int64. Equal data has equal encodings, so the
// Manager compares encodings to detect a change. It checks the values as
// it goes, as [CheckValue] does.
func appendData(b []byte, m map[string]any) ([]byte, error) {
	keys := sortedKeys(m)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if !utf8.ValidString(k) {
			return nil, &ValueError{Path: strconv.Quote(k), Reason: "key is not valid UTF-8"}
		}
		b = appendString(b, k)
		b = append(b, ':')
		var e *valueErr
		b, e = appendValue(b, m[k], 0)
		if e != nil {
			return nil, e.finish(k)
		}
	}
	return append(b, '}'), nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendValue(b []byte, v any, depth int) ([]byte, *valueErr) {
	if depth > maxDepth {
		return b, &valueErr{reason: fmt.Sprintf("nested deeper than %d levels", maxDepth)}
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, &valueErr{reason: fmt.Sprintf("float %v cannot be stored", v)}
		}
		n := len(b)
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		if !bytes.ContainsAny(b[n:], ".e") {
			b = append(b, ".0"...)
		}
		return b, nil
	case string:
		if !utf8.ValidString(v) {
			return b, &valueErr{reason: "string is not valid UTF-8"}
		}
		return appendString(b, v), nil
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var e *valueErr
			if b, e = appendValue(b, x, depth+1); e != nil {
				return b, e.wrap("[" + strconv.Itoa(i) + "]")
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b = append(b, ',')
			}
			if !utf8.ValidString(k) {
				return b, &valueErr{reason: fmt.Sprintf("map key %q is not valid UTF-8", k)}
			}
			b = appendString(b, k)
			b = append(b, ':')
			var e *valueErr
			if b, e = appendValue(b, v[k], depth+1); e != nil {
				return b, e.wrap("[" + strconv.Quote(k) + "]")
			}
		}
		return append(b, '}'), nil
	}
	return b, &valueErr{reason: fmt.Sprintf("type %T is not allowed; %s", v, allowed)}
}

// appendString appends s, valid UTF-8, as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeData reads data written by appendData.
func decodeData(p []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("session: decoding data: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("session: decoding data: trailing bytes")
	}
	if m == nil {
		return nil, fmt.Errorf("session: decoding data: not an object")
	}
	for k, v := range m {
		x, err := fromJSON(v)
		if err != nil {
			return nil, fmt.Errorf("session: decoding data: key %q: %w", k, err)
		}
		m[k] = x
	}
	if err := checkData(m); err != nil { // too deep, for one
		return nil, err
	}
	return m, nil
}

// fromJSON turns json.Numbers into int64 or float64, in place.
func fromJSON(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if strings.ContainsAny(s, ".eE") {
			return strconv.ParseFloat(s, 64)
		}
		return strconv.ParseInt(s, 10, 64)
	case []any:
		for i, x := range v {
			y, err := fromJSON(x)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
		if v == nil {
			v = []any{}
		}
		return v, nil
	case map[string]any:
		for k, x := range v {
			y, err := fromJSON(x)
			if err != nil {
				return nil, err
			}
			v[k] = y
		}
		return v, nil
	}
	return v, nil
}

// CloneData returns a deep copy of session data. Values of types
// sessions cannot keep are copied as they are.
func CloneData(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return cloneMap(m, 0)
}

func cloneMap(m map[string]any, depth int) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneValue(v, depth)
	}
	return c
}

// cloneValue copies v; below maxDepth (where CheckValue refuses data
// anyway) it stops copying, so that a value containing itself cannot
// overflow the stack.
func cloneValue(v any, depth int) any {
	if depth > maxDepth {
		return v
	}
	switch v := v.(type) {
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = cloneValue(x, depth+1)
		}
		return c
	case map[string]any:
		return cloneMap(v, depth+1)
	}
	return v
}
