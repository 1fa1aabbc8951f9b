package database

// The rules that keep query operators out of places where a value taken
// from a request could put them; see "Operators" in the package
// documentation.

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// logicalOps may appear as keys of a filter (at its top, or inside
// another logical operator): each takes a list of filters.
var logicalOps = map[string]bool{"$and": true, "$or": true, "$nor": true}

// comparisonOps may appear as the keys of a field's condition.
var comparisonOps = map[string]bool{
	"$eq": true, "$ne": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true,
	"$in": true, "$nin": true, "$exists": true,
}

// updateOps are the update operators update_one accepts.
var updateOps = map[string]bool{
	"$set": true, "$setOnInsert": true, "$unset": true, "$inc": true, "$mul": true,
	"$min": true, "$max": true, "$rename": true, "$push": true, "$addToSet": true,
	"$pull": true, "$pop": true, "$currentDate": true,
}

// pushModifiers may appear in the argument of $push and $addToSet.
var pushModifiers = map[string]bool{"$each": true, "$position": true, "$slice": true, "$sort": true}

const (
	allowedLogical    = "$and, $or, $nor"
	allowedComparison = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists"
	allowedUpdate     = "$set, $setOnInsert, $unset, $inc, $mul, $min, $max, $rename, $push, $addToSet, $pull, $pop, $currentDate"
)

// isOperator reports whether a key is an operator ($-prefixed).
func isOperator(key string) bool { return strings.HasPrefix(key, "$") }

// checkFilter enforces the filter rule on a converted filter document; a
// violation is a *QueryError.
func checkFilter(d bson.D, depth int) error { return refused(filterRule(d, depth)) }

// filterRule is checkFilter without the *QueryError around its error.
func filterRule(d bson.D, depth int) error {
	if depth > maxDepth {
		return convErrorf("filter nested deeper than %d levels", maxDepth)
	}
	for _, e := range d {
		switch {
		case logicalOps[e.Key]:
			arr, ok := e.Value.(bson.A)
			if !ok || len(arr) == 0 {
				return at(e.Key, convErrorf("%s takes a non-empty list of filters (dicts)", e.Key))
			}
			for i, x := range arr {
				sub, ok := x.(bson.D)
				if !ok {
					return at(fmt.Sprintf("%s[%d]", e.Key, i), convErrorf("%s takes a list of filters (dicts), not %s", e.Key, bsonKind(x)))
				}
				if err := filterRule(sub, depth+1); err != nil {
					return at(fmt.Sprintf("%s[%d]", e.Key, i), err)
				}
			}
		case isOperator(e.Key):
			return convErrorf("operator %s is not allowed in a filter (allowed: %s; and per field: %s)", e.Key, allowedLogical, allowedComparison)
		default:
			if err := checkPath(e.Key); err != nil {
				return err
			}
			if err := checkCondition(e.Value, depth+1); err != nil {
				return at(e.Key, err)
			}
		}
	}
	return nil
}

// checkCondition checks what a filter says of one field: a plain value, an
// embedded document (no operators at any depth), or a dict whose keys are
// all comparison operators.
func checkCondition(v any, depth int) error {
	d, ok := v.(bson.D)
	if !ok || !hasOperator(d) {
		return checkLiteral(v, depth)
	}
	for _, e := range d {
		if !comparisonOps[e.Key] {
			if isOperator(e.Key) {
				return convErrorf("operator %s is not allowed in a filter (allowed per field: %s)", e.Key, allowedComparison)
			}
			return convErrorf("a condition mixes operators and the field %q", e.Key)
		}
		switch e.Key {
		case "$in", "$nin":
			arr, ok := e.Value.(bson.A)
			if !ok {
				return at(e.Key, convErrorf("%s takes a list, not %s", e.Key, bsonKind(e.Value)))
			}
			if err := checkLiteral(arr, depth+1); err != nil {
				return at(e.Key, err)
			}
		case "$exists":
			if _, ok := e.Value.(bool); !ok {
				return at(e.Key, convErrorf("$exists takes True or False, not %s", bsonKind(e.Value)))
			}
		default:
			if err := checkLiteral(e.Value, depth+1); err != nil {
				return at(e.Key, err)
			}
		}
	}
	return nil
}

// checkLiteral checks a value that is data, not a query: no dict in it,
// at any depth, may have a key that starts with $ or contains a dot.
func checkLiteral(v any, depth int) error {
	if depth > maxDepth {
		return convErrorf("nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case bson.D:
		for _, e := range v {
			if err := checkFieldName(e.Key); err != nil {
				return err
			}
			if err := checkLiteral(e.Value, depth+1); err != nil {
				return at(e.Key, err)
			}
		}
	case bson.A:
		for i, x := range v {
			if err := checkLiteral(x, depth+1); err != nil {
				return at(fmt.Sprintf("[%d]", i), err)
			}
		}
	}
	return nil
}

// checkDocument checks a document to store (insert_one); a violation is a
// *QueryError.
func checkDocument(d bson.D) error { return refused(checkLiteral(d, 0)) }

// checkFieldName checks a key of a stored document: not empty, no $ at
// the start, no dot, no NUL.
func checkFieldName(key string) error {
	switch {
	case key == "":
		return convErrorf("empty field name")
	case isOperator(key):
		return convErrorf("field name %q starts with $: operators are not allowed in stored data (and a value from a request must not become one)", key)
	case strings.Contains(key, "."):
		return convErrorf("field name %q contains a dot", key)
	case strings.Contains(key, "\x00"):
		return convErrorf("field name %q contains a NUL byte", key)
	}
	return nil
}

// checkPath checks a field path of a filter or sort ("a.b.c"): not empty,
// no NUL, no segment that is empty or starts with $.
func checkPath(path string) error {
	if path == "" {
		return convErrorf("empty field name")
	}
	if strings.Contains(path, "\x00") {
		return convErrorf("field name %q contains a NUL byte", path)
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return convErrorf("field path %q has an empty part", path)
		}
		if isOperator(seg) {
			return convErrorf("field path %q has a part that starts with $", path)
		}
	}
	return nil
}

// checkUpdatePath checks a field path of an update: like checkPath, but
// parts after the first may be the positional operators $, $[] and
// $[name] ("items.$.done").
func checkUpdatePath(path string) error {
	if path == "" {
		return convErrorf("empty field name")
	}
	if strings.Contains(path, "\x00") {
		return convErrorf("field name %q contains a NUL byte", path)
	}
	for i, seg := range strings.Split(path, ".") {
		if seg == "" {
			return convErrorf("field path %q has an empty part", path)
		}
		if isOperator(seg) && (i == 0 || !(seg == "$" || strings.HasPrefix(seg, "$[") && strings.HasSuffix(seg, "]"))) {
			return convErrorf("field path %q has a part that starts with $", path)
		}
	}
	return nil
}

// hasOperator reports whether any key of d starts with $.
func hasOperator(d bson.D) bool {
	for _, e := range d {
		if isOperator(e.Key) {
			return true
		}
	}
	return false
}

// checkUpdate enforces the update rule: only update operators at the top,
// each with a dict of field paths; values are data (see checkLiteral),
// except the modifiers of $push/$addToSet, the condition of $pull and the
// {"$type": ...} of $currentDate. A violation is a *QueryError.
func checkUpdate(d bson.D) error { return refused(updateRule(d)) }

// updateRule is checkUpdate without the *QueryError around its error.
func updateRule(d bson.D) error {
	if len(d) == 0 {
		return convErrorf("empty update: use operators such as {\"$set\": {...}}")
	}
	for _, e := range d {
		if !isOperator(e.Key) {
			return convErrorf("update key %q is not an operator: use operators such as {\"$set\": {%q: ...}} (replacing a whole document is not supported)", e.Key, e.Key)
		}
		if !updateOps[e.Key] {
			return convErrorf("update operator %s is not supported (supported: %s)", e.Key, allowedUpdate)
		}
		fields, ok := e.Value.(bson.D)
		if !ok {
			return at(e.Key, convErrorf("%s takes a dict of fields, not %s", e.Key, bsonKind(e.Value)))
		}
		for _, f := range fields {
			if err := checkUpdatePath(f.Key); err != nil {
				return at(e.Key, err)
			}
			if err := checkUpdateArg(e.Key, f.Value); err != nil {
				return at(e.Key, at(f.Key, err))
			}
		}
	}
	return nil
}

func checkUpdateArg(op string, v any) error {
	d, isDoc := v.(bson.D)
	switch op {
	case "$push", "$addToSet":
		if !isDoc || !hasOperator(d) {
			return checkLiteral(v, 0)
		}
		for _, m := range d {
			if !pushModifiers[m.Key] || (op == "$addToSet" && m.Key != "$each") {
				return convErrorf("%s does not take %q (it takes a value, or {\"$each\": [...]})", op, m.Key)
			}
			if m.Key == "$each" {
				if _, ok := m.Value.(bson.A); !ok {
					return at(m.Key, convErrorf("$each takes a list, not %s", bsonKind(m.Value)))
				}
			}
			if err := checkLiteral(m.Value, 1); err != nil {
				return at(m.Key, err)
			}
		}
		return nil
	case "$pull":
		if isDoc && !hasOperator(d) {
			// A condition on the fields of the array's documents.
			return filterRule(d, 1)
		}
		return checkCondition(v, 0)
	case "$currentDate":
		if _, ok := v.(bool); ok {
			return nil
		}
		if isDoc && len(d) == 1 && d[0].Key == "$type" && (d[0].Value == "date" || d[0].Value == "timestamp") {
			return nil
		}
		return convErrorf(`$currentDate takes True or {"$type": "date"}`)
	default:
		return checkLiteral(v, 0)
	}
}

// bsonKind names the Starlark type a converted value came from, for
// error messages.
func bsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int32, int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case bson.Binary:
		return "bytes"
	case bson.A:
		return "list"
	case bson.D:
		return "dict"
	case bson.ObjectID:
		return "ObjectId"
	case bson.DateTime:
		return "time"
	}
	return fmt.Sprintf("%T", v)
}
