// Package database gives Starlark code (simplates and hooks) MongoDB, through
// the official Go driver (go.mongodb.org/mongo-driver/v2).
//
// # Starlark API
//
// A Connector holds the client of the configured server. Its Builtin is
// connect(name_or_uri):
//
//	db = connect("todoy")                          # database todoy on the configured server
//	db = connect("mongodb://host:27017/todoy")     # database todoy on another server
//
// A bare name has 1 to 63 letters, digits, '_' and '-'. A mongodb:// or
// mongodb+srv:// URI must name its database in its path; its client is
// opened on first use, shared by later calls with the same URI, and closed
// with the Connector.
//
// A database handle (a *Handle, type "database") gives collections by
// attribute or index: db.todos, db["todos"]. Collection names may not be
// empty, contain $ or NUL, or start with "system.". A collection (type
// "collection") has an attribute name and these methods:
//
//	find(filter={}, sort=None, limit=0, skip=0) → list of dicts
//	find_one(filter={})                         → dict, or None when nothing matches
//	insert_one(doc)                             → the _id (a new ObjectId unless doc has "_id")
//	update_one(filter, update)                  → number of documents modified, 0 or 1
//	delete_one(filter)                          → number of documents deleted, 0 or 1
//	count(filter={})                            → int
//
// sort is a field name ("title", or "-created" for descending), one
// (field, 1 or -1) pair, a list of such names and pairs, or a dict
// {field: 1 or -1} (dicts keep their order). limit=0 means no limit. update_one needs update
// operators ({"$set": {"done": True}}); a replacement document is refused.
// update_one and delete_one need a dict filter: None is refused rather
// than matching any document. insert_one does not add "_id" to the dict
// passed to it. update_one counts documents modified: one that already had
// the new values counts 0 on MongoDB.
//
// ObjectId(hex) parses an ObjectId from its 24 hexadecimal digits (from a
// URL or a form); malformed input is an *InvalidObjectIDError, whose
// HTTPStatus is 400. ObjectId() makes a new one. An ObjectId value has
// type "ObjectId"; str(oid) is its hex; == and hashing work, so it can be
// used in filters (db.todos.find_one({"_id": oid})) and as a dict key;
// oid.time is its creation time. Templates and json.encode show its hex.
//
// # Conversion
//
// ToBSON and FromBSON convert between Starlark values and BSON:
//
//	None        ↔ null (also undefined, when reading)
//	bool        ↔ boolean
//	int         ↔ int32 when it fits, else int64; an int beyond 64 bits is an error
//	float       ↔ double
//	str         ↔ string (must be valid UTF-8)
//	bytes       ↔ binary, generic subtype (0; subtype 2 also reads as bytes)
//	list, tuple → array → list
//	dict        ↔ document, in order; keys must be str (an error names the key)
//	ObjectId    ↔ ObjectId
//	time.time   ↔ date: BSON dates hold milliseconds, so the sub-millisecond
//	              part is dropped, and times read back are in UTC
//
// Anything else Starlark has (sets, functions, durations ...) is an error
// naming where it sits ("tags[2]: a set cannot be stored in the
// database"). Reading a BSON type that Starlark has no counterpart for
// (Decimal128, regular expression, JavaScript, timestamp, MinKey, MaxKey,
// binary of another subtype ...) is an error naming the field: aspengo does
// not turn it into a string that a later write would store as a different
// type. Nesting is limited to 100 levels, as in MongoDB. The embedded
// engine (FerretDB v1) refuses an array directly inside an array
// ([[1, 2]]); an array of documents holding arrays works everywhere.
//
// # Operators
//
// A value taken from a request must not be able to change what a query
// means ("operator injection"). Values from forms, query strings, cookies
// and URL paths are strings (request.body.one, request.qs, request.path):
// a string is always matched as data, so they can never become operators.
// request.json can hold dicts, such as {"$ne": None}, which a dict-based
// query language cannot tell from one the page wrote; so aspengo limits
// what any dict can do, whoever wrote it:
//
//   - Filters (find, find_one, count, update_one, delete_one): a top-level
//     key is a field path, or $and, $or, $nor with a non-empty list of
//     filters. A field's condition is a value, an embedded document (no key
//     starting with $ at any depth), or a dict whose keys are all
//     comparison operators: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin (with
//     a list), $exists (with True or False). The values of these operators
//     are data: an operator dict inside them is refused. Every other
//     operator is refused wherever it appears, notably $where, $expr,
//     $function, $regex, $text, $jsonSchema, $elemMatch, $not. Field paths
//     may not have a part that is empty or starts with $.
//   - Documents (insert_one, and the values of $set, $setOnInsert, $min,
//     $max, $inc, $mul, $unset, $rename, $pop, $push, $addToSet): no key
//     starting with $ or containing '.' at any depth. $push and $addToSet
//     also take {"$each": [...]} ($push also $position, $slice, $sort);
//     $pull takes a condition or a filter of the array's documents, under
//     the filter rule; $currentDate takes True or {"$type": "date"}.
//   - Updates: every top-level key is one of the operators above.
//
// What remains for the page: a dict from request.json that it puts as a
// field's value can still be a comparison ({"$ne": None} matches any
// other value). A page that builds filters from request.json should check
// the types it expects (type(x) == "string"), or pass ids through
// ObjectId(), which accepts only a str.
//
// # Errors and timeouts
//
// Each operation runs with the context of the request the Starlark thread
// serves (simplate.Context), else context.Background, and is
// limited to the Connector's timeout (DefaultTimeout, WithTimeout). When the
// server cannot be reached or does not answer in time — server selection
// fails, the network fails, the deadline passes, the client is closed — the
// error is an *UnavailableError, whose HTTPStatus method returns 503. A
// request cancelled by its visitor gives the context's error instead.
// Violating a unique index gives an error that says "duplicate key", for
// which IsDuplicateKey reports true (through *starlark.EvalError too).
// Refused filters, updates and documents are *QueryError values that name
// the field; their HTTPStatus is 400, so a website answers a request that
// carried a refused operator with a 400 giving the reason, logged as a
// warning, not with a 500 and a traceback.
package database
