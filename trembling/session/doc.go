// Package session is the storage layer of trembling's sessions: tokens,
// records, the [Store] interface that every server-side store implements,
// the [CookieCodec] interface of the cookie store, and a [Manager] that
// loads and commits sessions in net/http terms.
//
// # Tokens and ids
//
// A session's cookie carries a [Token]: 32 bytes from crypto/rand, encoded
// as base64url without padding (43 characters). Stores never see the token:
// they key records by [Hash] of it, the hex SHA-256, so a leaked sessions
// collection reveals no usable cookie. A cookie that does not parse as a
// token, or whose record is unknown or expired, is never adopted: the
// request gets a fresh empty session, and a new token is made only when
// that session is first saved.
//
// # Values
//
// Session data is JSON-like: string, int64, float64, bool, nil, []any and
// map[string]any, nested freely. Integers stay int64 through every store,
// so a counter stays an integer; a float64 stays a float64 even when it is
// whole. [CheckValue] refuses anything else (an int, a struct, NaN, a
// string that is not UTF-8) with an error that names the key and the path
// inside it.
//
// # Saving
//
// [Manager.Commit] writes a session only when it must: an empty session
// that stays empty causes no store write and no cookie; a loaded session
// is written when its data changed (compared key by key through a
// canonical encoding, so a change deep inside a nested list counts) or
// when its idle expiry is due for refreshing, at most once a minute. A
// response with status 500 or more saves nothing. The idle timeout
// (default 24 hours) and the absolute lifetime (default 14 days) are
// enforced by the server, not only by the cookie.
//
// A save sends a [Change], not the whole session: the top-level keys its
// request set or removed, the items it pushed onto or pulled from a list
// ([Session.Push], [Session.Pull]; trembling keeps messages that way),
// and the new idle expiry. The store applies it to the latest stored
// version with [Change.Apply], so concurrent requests on one session
// merge: different keys are all kept, pushed items all arrive, and for
// one key the save applied last wins. Data over the size limit
// ([Manager.MaxSize], 64 KiB by default) is refused before anything is
// written, with an error wrapping [ErrTooLarge] that names the limit.
//
// A session deleted while another request on it is in flight (a logout in
// another tab) is not brought back by that request's Commit: stores apply
// changes only to records that still exist and are live, and that
// request's changes are dropped. The same holds for a session that
// expired between the request's load and its save: the save is dropped
// (Update reports false), as if the session had been deleted, since
// saving would revive a session the server has already ended. Such a
// response sends no Set-Cookie header, so that it cannot overwrite a
// cookie that a concurrent login set; the client keeps its cookie, which
// no longer finds a record, and its next request starts a new session.
//
// # Stores
//
// Subpackages hold the stores: memstore (in memory, one process),
// mongostore (MongoDB collection "sessions"), and cookiestore, which seals
// the whole session into the cookie with AES-GCM. A sealed cookie is not
// revocable server-side: Destroy expires the cookie in the browser, but a
// copy of the old value stays valid until its own expiry; nor can it
// merge concurrent requests, since each cookie holds one request's whole
// view of the session (the last response's cookie wins). Package
// sessiontest holds the conformance suite every store passes.
//
// # A user's sessions
//
// With [Manager.Owner] set, a session logged in as a user is recorded in
// that user's index when it is created, if the store is a [UserIndex]
// (memstore and mongostore are), and dropped from it when it is deleted.
// [Manager.UserSessions] then lists the user's live sessions by reading
// the index and each session by id, never the whole store, and
// [Manager.EndUserSession] ends one of them by its [Ref], an opaque name
// a page may show: neither the token nor the store id can be found from
// it, and it only names sessions of the user it is used for. Sealed
// cookies cannot be listed: those methods then fail with
// [ErrNoUserIndex].
package session
