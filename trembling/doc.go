// Package trembling binds trembling's sessions and messages into aspengo
// websites. The storage layer is package [session] and its stores; this
// package registers the hooks, the request attributes and the builtins
// that pages use, and the Go API that other Go code (auth) uses.
//
// # Setting up
//
// [Register] adds to an [aspengo.Registry]:
//
//   - the hooks trembling.session:inbound (inbound phases only) and
//     trembling.session:outbound (outbound phases only);
//   - the request attributes request.session and request.messages, which
//     without the inbound hook are an error naming the hook to add;
//   - the builtin add_message(request, text, level="info");
//   - a start function that sets the site's session store up once the
//     startup hooks have run, and a shutdown function that stops it.
//
// hooks.conf lists the hooks as trembling's README does:
//
//	# Inbound Early Hooks
//	trembling.session:inbound
//	...
//	# Outbound Late Hooks
//	trembling.session:outbound
//
// One Registry may serve several Websites (a restart, or aspengo check):
// each started Website gets its own store, set up by [aspengo.Website.Start]
// and dropped by [aspengo.Website.Shutdown].
//
// # Choosing the store
//
// The store is website.session_store, a string a startup hook may set
// (website.session_store = "memory"), else [Config.Store], else "mongo":
//
//   - "mongo": the collection "sessions" of website.db, which a startup
//     hook must have set to a database handle (website.db =
//     connect("mydb")); startup fails with a clear error otherwise. Its
//     index is made at startup, and expired sessions are swept every
//     [Config.SweepEvery] (the embedded engine has no TTL indexes).
//   - "memory": in this process only; sessions end with it.
//   - "cookie": the whole session sealed in its cookie with AES-256-GCM.
//     Its keys are [Config.CookieSecrets] (the first seals, every one
//     opens, so keys rotate), else the file cookie-session.key in
//     [Config.KeyDir]: 32 random bytes, mode 0600, made on first use and
//     refused if others may read it. Keep that file out of version
//     control, and keep it: losing it ends every session. Cookie sessions
//     cannot be revoked server-side (see package cookiestore).
//
// Every call to the store is bounded by [Config.StoreTimeout] (5 seconds by
// default) on the request's context. A store that fails or does not answer
// in time (the database is down) makes the request fail with a
// [*StoreError], which the pipeline answers with 503 Service Unavailable.
//
// # request.session
//
// request.session behaves like a dict with string keys: s[key], s[key] = v,
// key in s, len(s), for key in s, and the methods get, pop, setdefault,
// update, keys, values, items and clear. Starlark has no del statement (del
// is a reserved word), so request.session.pop(key) removes a key.
//
// Values are JSON-like: str, int, float, bool, None, and lists and dicts
// (with str keys) of those, nested. Storing anything else — a tuple, a set,
// bytes, a function, an int beyond 64 bits, a float that is not finite, a
// str that is not UTF-8 — is an error at once, naming the key. Stored lists
// and dicts are ordinary Starlark values, so request.session["cart"].append(x)
// works and is saved; a value that such a nested change makes unstorable is
// found when the response goes out, and the request becomes a 500 whose
// logged error names the key. Ints come back as ints and floats as floats.
// After a reload a session's keys, and those of dicts inside it, come back
// in sorted order.
//
// The session is saved by the outbound hook under the rules of
// [session.Manager.Commit]: only when it changed (nested changes included)
// or its idle expiry is due for refreshing, never for an empty new
// session (an anonymous page sets no cookie and writes nothing), never on
// a 5xx response. The cookie is session_key, Path=/, HttpOnly,
// SameSite=Lax, Secure over TLS or with [Config.SecureCookies], and
// responses that set it carry Vary: Cookie and Cache-Control: private.
//
// # Messages
//
// request.messages is the list of the messages waiting for the visitor,
// each with .text and .level; a template shows them with
//
//	{{ range .request.messages }}{{ .level }}: {{ .text }}{{ end }}
//
// and html/template escapes them like any other value.
// add_message(request, text, level="info") adds one; the levels are debug,
// info, success, warning and error. As in trembling, a page may also set
// request.session["messages"] = "text" (or a list of texts): on the next
// request that session key is gone and its texts are messages of level
// info.
//
// Messages wait in the session, under the reserved key "_messages", which
// request.session does not show and refuses to set, until a page displays
// them: a response with a 2xx status and an HTML content type (text/html or
// application/xhtml+xml), not to HEAD, whose template was given
// request.messages. Only the messages that template was given are then
// removed, so one added later (by an outbound hook) stays. A redirect, an
// error page, a JSON response or a static file keeps them for the next
// page, so a form post that adds a message and redirects (POST → 302 →
// GET) shows it on the page it redirects to, and a message added while
// rendering a page is shown on that page. Messages survive
// request.session.clear(), [Session.Destroy] and [Session.RenewToken]: they
// belong to the browser (a logout may say "You are logged out"). At most
// [MaxMessages] wait; beyond that the oldest are dropped.
//
// # Go API
//
// [SessionOf] gives Go code (builtins such as auth's login(request, ...),
// Go hooks) the current request's [Session]. There is one source of truth:
// the Starlark request.session. Session's Get, Set, Delete and Clear read
// and write through it, so a change made from Go during a Starlark call is
// seen by the page at once and saved with the page's own changes;
// [Session.RenewToken] and [Session.Destroy] act on the stored session as
// well.
package trembling
