// Package embedded runs a MongoDB-compatible database in-process: FerretDB
// v1.24.2 with its SQLite backend, for aspengo sites without a MongoDB.
// Only cmd/aspengo and tests import it, so a program that embeds aspengo
// with its own MongoDB does not link FerretDB.
//
// # Data directory
//
// [Open] keeps the data in Config.Dir (created 0700, with a [GitignoreFile]
// that ignores everything): one <database>.sqlite
// file per database (SQLite in WAL mode), plus [LockFile], [URIFile] and,
// while running, the sockets. One process owns a directory: the one that
// holds an flock on LockFile (which contains its pid). Every other Open on
// the directory, in the same process or another, returns an [Engine] in
// client mode whose URI is the owner's (read from URIFile) and whose Close
// stops nothing; so `aspengo user add` talks to a running `aspengo serve`
// instead of opening the files twice. When the lock is free, Open becomes
// the owner and removes the socket and URI file a crashed owner left.
// Locking needs flock(2): on other systems (Windows) Open fails.
//
// # Listening
//
// The owner listens only on a unix socket, dir/[SocketFile], mode 0600,
// with the driver URI mongodb://%2Fpath%2Fto%2Fmongodb.sock/ (the path
// query-escaped, as the driver unescapes it). A socket path must fit in
// 107 bytes (103 on BSD and macOS) and the driver cannot parse one with a
// ':'; in those cases the sockets go to a new private directory
// os.TempDir()/aspengo-db-* (0700, removed by Close, left behind by a
// crash), and if even that does not fit, Open fails with an error that
// asks for a shorter data directory. The engine has no authentication, so
// it never listens on TCP, which every local user could reach. URIFile
// tells other processes where the server is. Nothing listens on any
// other address, there is no HTTP (metrics or debug) listener, and
// FerretDB's telemetry reporter is not linked (only FerretDB's own command
// creates it; New also marks telemetry disabled).
//
// # Proxy
//
// Clients do not reach FerretDB directly: the engine relays each client
// connection to FerretDB's own socket (dir/ferretdb.sock, not for use by
// others) and lets one update, delete or findAndModify command run at a
// time. FerretDB v1 runs these as read, modify in Go, write back, without
// a transaction, so bare FerretDB loses concurrent $inc updates and a
// filtered update is not a compare-and-set; through the engine they are
// atomic, as on MongoDB. Unacknowledged writes (w:0) are not serialized.
//
// The relay also reads the filters of the writes it passes on, so that
// [Engine.Version] can tell a process that caches documents when a copy
// may be stale, whichever client (this process or `aspengo user` through
// the socket) made the write.
//
// # What is indexed
//
// FerretDB v1 turns a filter into SQL only when it is exactly
// {_id: <string or ObjectID>}; every other filter (two keys, an operator,
// another field, even {_id: {$eq: v}}) reads and decodes every document
// of the collection, whatever indexes exist. For that one pushed-down
// lookup (used by find, count, update, delete and findAndModify),
// FerretDB's SQL compares an expression that its own unique _id index
// does not match, so SQLite would scan the table. The engine therefore
// adds to every collection table an index on exactly that expression:
// for the collections found at Open, before FerretDB starts, and for
// each collection created later, as soon as the relay sees the command
// that created it (create, insert, update, an upserting findAndModify,
// createIndexes) succeed, before the client gets the reply. FerretDB does
// not know of this index: listIndexes does not show it, dropIndexes
// leaves it, drop and dropDatabase remove it with the table,
// renameCollection keeps it. The index is maintained with a SQLite
// connection of the engine's own, opened only while it works.
//
// So on the embedded engine, a lookup by exact _id costs the same at 1 k
// and at 1 M documents; anything else costs time in proportion to the
// collection's size, about 5 to 30 µs per stored document.
//
// # Logging
//
// FerretDB logs through Config.Logger (nil: discarded) at Config.LogLevel
// and above, slog.LevelWarn by default, which drops its per-connection
// info lines.
//
// # What the engine supports (v2 driver)
//
// Tested in capabilities_test.go, on this engine and on MongoDB when
// MONGODB_URI is set:
//   - Unique indexes: a duplicate gives a WriteException with code 11000
//     (mongo.IsDuplicateKeyError). Unlike MongoDB, several documents
//     lacking the indexed field are all accepted.
//   - TTL indexes: refused. createIndexes with expireAfterSeconds fails with
//     CommandError 238 NotImplemented; expire documents yourself
//     (DeleteMany with $lt on a date).
//   - UpdateOne with $set, $inc, $push, $unset, $setOnInsert and upsert,
//     ReplaceOne, $addToSet, $pull; a filter on _id plus a field value acts
//     as a conditional update (MatchedCount 0 when it no longer matches; a
//     deleted document is not re-created without upsert).
//   - FindOneAndUpdate with ReturnDocument Before/After and upsert;
//     mongo.ErrNoDocuments when nothing matches.
//   - DeleteMany with $lt on a date, Find with sort and limit, projection,
//     $in, CountDocuments, EstimatedDocumentCount.
//   - ObjectIDs round-trip; dates are BSON dates, millisecond precision,
//     decoded in UTC.
//   - Transactions: not supported. StartSession works, but a transaction's
//     first command fails with CommandError 9 (FailedToParse: unknown field
//     "startTransaction") and nothing is written.
//   - When the engine stops under a client, a pooled connection fails with
//     a network error (mongo.IsNetworkError), later operations with a
//     server selection timeout (mongo.IsTimeout), each after about the
//     client's server selection timeout; treat both as "database
//     unavailable" (503).
//
// Start-up takes a few milliseconds: Open on a new directory to the first
// successful ping is about 8 ms (BenchmarkOpenToFirstPing).
package embedded
