// Package auth is the storage and checking layer of trembling's
// username/password authentication: user accounts in MongoDB, bcrypt
// password hashes, login throttling, the password fingerprint that lets a
// password change end other sessions, and [SafeNext] for "?next=" redirects.
// It knows nothing of HTTP requests or sessions; package trembling builds
// the login/logout hooks on top of it.
//
// # Users
//
// [Users] keeps accounts in the collection "users":
//
//	{_id: the canonical username, username: string as typed at
//	 registration, password_hash: string, email: string, is_active: bool,
//	 created_at: date, last_login: date or null, password_changed_at: date,
//	 session_epoch: int, moved on by a disable and by Users.EndSessions}
//
// Usernames are 1 to 64 ASCII characters from A–Z, a–z, 0–9 and ". _ - @ +",
// starting with a letter or a digit (so that an e-mail address works as a
// username, and no username looks like a command-line flag). They are
// never trimmed: " alice" is refused rather than silently trimmed. They
// compare without regard to case: an account's _id is its [Canonical]
// username (Unicode simple case folding, which on these characters is
// lower-casing), so "Alice" and "alice" are one account, which keeps the
// spelling it was registered with. Dates are stored with millisecond
// precision, in UTC.
//
// Every query a request causes — reading the logged-in user, a login,
// the throttle — is an exact {_id: string} lookup, the one filter the
// embedded engine answers from an index; other filters read the whole
// collection. Only [Users.List], [Users.Migrate], [Users.DeleteStaleFailures]
// and the one-time upgrade of a hash's cost use other filters.
//
// # Accounts of older versions
//
// Older versions gave accounts an ObjectId _id and compared usernames
// exactly. [Users.EnsureIndexes] (which every method runs once) migrates
// them: see [Users.Migrate]. Accounts whose usernames differ only in
// case cannot become one account; they are left as they are, logged at
// error level at startup and listed by [Users.Conflicts], keep logging
// in by their exact usernames, and block new accounts of that name,
// until all but one of them are deleted.
//
// # Passwords
//
// A new password (Create, SetPassword) must follow one policy,
// [CheckPassword]: 12 to 128 characters of any script, counted as runes,
// and not one of the 10,000 most common breached passwords
// ([IsCommonPassword]; the list is embedded, its source and licence are
// in commonpasswords/SOURCE.md). Logging in does not apply it, so a
// password set under an older policy still works.
//
// The stored hash is bcrypt, cost 12 by default ([Options.Cost]), of the
// base64 of HMAC-SHA256 of the password under a secret key, the pepper
// ([Options.Pepper]), behind a version prefix. The HMAC gives bcrypt 44
// bytes whatever the password's length, so bcrypt's limit of 72 bytes
// never cuts a password short; and a copy of the database without the
// pepper cannot be used to test guesses. Hashes of the older version
// (plain bcrypt, no prefix) still log in, and are replaced by the current
// version at the next successful login, as is a hash of a lower cost
// than configured (a higher cost is kept). NewUsers accepts down to
// bcrypt's own minimum, [LowestCost], so that tests run quickly;
// [MinCost] (10) is the floor for real use, which trembling and the
// aspengo command enforce.
//
// # Authenticate
//
// [Users.Authenticate] gives the same error value, [ErrInvalidCredentials],
// for an unknown username, a wrong password and an inactive account, and
// does the same work for each: one bcrypt comparison at the configured
// cost (against a dummy hash, made once per [Users], for an unknown
// username; against the real hash for an inactive account). One
// difference remains: a stored hash of a lower cost than configured is
// compared faster, until its owner's next login upgrades it.
//
// # Throttling
//
// Login attempts are counted per account in the collection
// "login_failures", so that the limit holds across processes sharing the
// database. Each counted attempt is a row of its own:
//
//	{_id: "<hex SHA-256 of the canonical username>#<window>#<slot>",
//	 expires_at: date, the end of the window}
//
// Windows are fixed (default 15 minutes), aligned on multiples of their
// length since the Unix epoch so that every process agrees on them. Every
// attempt is counted before its password is checked, by inserting the
// first free slot 0 … MaxFailures-1 of its window (found by exact _id
// reads): an insert of a unique _id is atomic on every engine, where a
// read-modify-write such as $inc is not (a standalone FerretDB has none),
// so parallel attempts each take a different slot and exactly
// [Options.MaxFailures] of them (default 5) are checked. When every slot
// is taken, further attempts get an error that matches [ErrThrottled] (a
// [*ThrottledError], which says when the window ends) until the window
// ends, even with the right password; a successful login deletes the
// window's rows. Since windows are fixed, an attacker can make at most
// 2×MaxFailures guesses in any span of one window's length. Unknown
// usernames are counted and throttled exactly like existing ones, so
// throttling says nothing about which usernames exist.
//
// A throttled attempt is answered at once, without a bcrypt comparison.
// That is not a timing oracle: the answer depends only on the count for
// the username, which is the same for existing and unknown accounts, and
// the password is never looked at, so its speed reveals nothing the
// distinct error does not already say. Skipping bcrypt also means that a
// flood of attempts against one account costs no CPU.
//
// The username is stored only as its SHA-256, so a password typed into
// the username field is not kept in clear (an unkeyed hash of a guessable
// string can still be confirmed by guessing). [Users.DeleteStaleFailures]
// removes the rows of past windows, since the embedded engine has no TTL
// indexes.
//
// # Password spraying
//
// One password tried against many accounts stays under every account's
// limit, so [Users.LoginFrom] also counts failed attempts per client (the
// address the caller gives; trembling gives the remote address, or the
// one a trusted proxy supplies): at most [Options.MaxClientFailures] per
// window (default 50) on any accounts, in rows of their own, counted the
// same exact way (a unique _id per slot, exact _id lookups only). Only
// failures count: a successful attempt gives its row back. An attempt
// presenting a valid device cookie for its account is not counted against
// its client, so that a sprayer behind a shared address (an office, a
// carrier's NAT) does not lock out the users who log in there. The client
// address is stored only as its SHA-256.
//
// # Device cookies
//
// Per-account throttling alone would let anyone lock an account's owner
// out by failing a few times per window. Following OWASP's "device
// cookie" scheme, [Users.Login] returns, with every successful login, a
// device cookie for the client to keep: a random nonce and an HMAC of it
// and the canonical username, under [Options.DeviceKey] (a key the site
// keeps out of the database, such as trembling's key file), or without
// one under a key kept in the collection "auth_keys", made by the first
// process that needs it, so that every process sharing the database
// trusts the same cookies (but a copy of the database then lets anyone
// make device cookies, which only lifts the lockout: the password is
// still needed). A login that presents a valid device cookie
// for its account is counted against that device cookie only, not
// against the account: other clients' failures never lock it out, and
// its own failures (MaxFailures per window, like the account's) lock out
// only that device cookie. A forged or altered cookie, or one issued for
// another account or under another key, counts for nothing: the attempt
// is counted against the account like any other. A success from a client
// without a device cookie resets the account's counter; one with a device
// cookie resets that cookie's. Device cookies cannot be revoked one by
// one; changing the key distrusts them all.
//
// # Bounded hashing
//
// A bcrypt computation takes a CPU for tens to hundreds of milliseconds,
// so a spray of logins could starve every other request. At most
// [Options.MaxHashes] run at once (default: the number of CPUs); a login,
// Create or SetPassword that finds none free waits up to
// [Options.HashWait] (default 2 s), then fails with a [*BusyError]
// (matching [ErrBusy]), and a login refused so is not counted against
// the throttle. Throttled attempts never wait: they need no bcrypt.
// Create checks that the name is free before hashing, so that the loser
// of a registration race costs little.
//
// # Cache
//
// With [Options.Versions] (an engine that sees every write, such as the
// embedded one, can provide a [Versioner]), a Users keeps up to
// [Options.CacheSize] accounts in memory. Before each use it asks the
// version of the account's document — recorded before a read, so that a
// write during the read is not missed — and reads the database again
// only when the version changed. A password change, a disabled or
// deleted account, from this process or any other on the engine, is thus
// seen at the next request, at the price of one version lookup instead
// of a query.
//
// # Fingerprint
//
// [Fingerprint] is a short digest of a user's password hash that the
// session keeps at login; the auth hook compares it with the current
// user's on every request, so a password change ends every other session.
// A hash upgrade at login changes it too, which ends the user's other
// sessions once after the cost is raised.
package auth
