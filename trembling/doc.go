// Package trembling binds trembling's sessions, messages and
// username/password authentication into aspengo websites. The storage
// layers are package [session] and its stores, and package [auth]; this
// package registers the hooks, the request attributes and the builtins
// that pages use, and the Go API that other Go code uses.
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
//     startup hooks have run, and a shutdown function that stops it;
//   - the hook trembling.auth:inbound, the request attributes user,
//     authenticated and login_error, and the auth builtins (see
//     Authentication below).
//
// hooks.conf lists the hooks as trembling's README does:
//
//	# Inbound Early Hooks
//	trembling.session:inbound
//	trembling.auth:inbound
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
//     connect("mydb")); startup fails with a clear error otherwise. A
//     TTL index is made at startup where the server has them, and
//     expired sessions are swept every [Config.SweepEvery] (the embedded
//     engine has no TTL indexes). Serving a request, the store looks
//     documents up by exact _id only, which the embedded engine answers
//     from an index; the sweep reads the whole collection. With
//     [Config.Versioner] it also keeps an exact in-process cache.
//   - "memory": in this process only; sessions end with it.
//   - "cookie": the whole session sealed in its cookie with AES-256-GCM.
//     Its keys are [Config.CookieSecrets] (the first seals, every one
//     opens, so keys rotate), else the file cookie-session.key in
//     [Config.KeyDir]: 32 random bytes, mode 0600, made on first use and
//     refused if others may read it. Keep that file out of version
//     control, and keep it: losing it ends every session. A sealed cookie
//     cannot be deleted server-side, so logout moves the user's session
//     epoch (kept with the account) on instead: a copy of the cookie
//     replayed after the logout is no longer logged in, and the logout
//     ends the user's cookie sessions on their other devices too (see
//     package cookiestore).
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
// The session is loaded lazily: trembling.session:inbound only makes
// request.session and request.messages ready, and the store is read the
// first time a page, a template, a hook or Go code ([SessionOf]) uses
// them. A static file, or a page that uses neither, costs no store call,
// and its response sets no cookie.
//
// The session is saved by the outbound hook, if it was loaded, under the
// rules of [session.Manager.Commit]: only when it changed (nested changes included)
// or its idle expiry is due for refreshing, never for an empty new
// session (an anonymous page sets no cookie and writes nothing), never on
// a 5xx response. The cookie is HttpOnly, SameSite=Lax, Path=/. It is
// Secure unless the request is plain HTTP to a loopback host (localhost,
// *.localhost, 127.0.0.0/8, ::1), so a site behind a TLS-terminating proxy
// gets Secure cookies while http://127.0.0.1 works in development;
// [Config.SecureCookies] (--secure-cookies) makes it Secure everywhere and
// [Config.InsecureCookies] (--insecure-cookies) only over TLS. A Secure
// cookie is named __Host-session_key (the prefix makes browsers refuse it
// from plain HTTP and from other subdomains), else session_key
// ([Config.CookieName] changes the base name); a request is read under the
// name its response would set. The login_device cookie follows the same
// Secure rule. Responses that set the cookie carry Vary: Cookie and
// Cache-Control: private, and so does every response to a request that
// loaded a stored session, since the page may show what the session
// holds; a response to a logged-in user is Cache-Control: no-store, so
// that the back button does not show it after a logout.
//
// # Session limits
//
// A session ends when it goes unused for its idle timeout, or at the end of
// its lifetime however much it is used. The limits depend on whether the
// session holds a login:
//
//   - anonymous: 24 hours idle, 14 days in all ([Config.IdleTimeout],
//     [Config.Lifetime]);
//   - logged in: 30 minutes idle, 12 hours since the login
//     ([Config.LoginIdleTimeout], [Config.LoginLifetime]; aspengo serve
//     --session-idle and --session-lifetime), as OWASP ASVS level 2 asks.
//     A startup hook may set website.session_idle and
//     website.session_lifetime, in seconds, which win over the Config
//     (website.session_idle = 15 * 60).
//
// Every response to a logged-in user whose request used the session, and
// the logout's, is Cache-Control: no-store (not merely private), so that
// after a logout the browser's back button does not show those pages.
//
// A login renews the session's token, so a logged-in session's lifetime
// counts from the login; a logout ends the session, and what the visitor
// stores next is an anonymous session again.
//
// A save sends only what its request changed: the top-level keys whose
// value changed (at any depth), and the messages added and displayed. So
// two requests on one session at once (two tabs) that change different
// keys both keep their changes, and messages added by parallel requests
// all arrive; two that change the same key: the last save wins. A session
// whose data would exceed [Config.MaxSessionSize] (64 KiB by default, in
// bytes of its JSON form) is not saved: the request fails with an error
// naming the limit.
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
// Each message is stored with a random id, added to the stored list and
// removed from it one by one, so that parallel requests merge: a message
// added by one is kept when another displays others. Two requests that
// load the same message at once may both display it; once one has saved,
// no later request shows it again.
//
// A message alone makes a session when the visitor has none (a form post
// that says "Thanks" and redirects), with one exception: a logout by a
// visitor who came without a session stores nothing, so that posting to
// a logout page, which anyone may do, does not create a session each
// time.
//
// # Authentication
//
// Accounts live in the collection "users" of website.db, under their
// canonical (case-folded) username: "Alice" and "alice" are one account
// (see package [auth] for the rules on usernames, passwords, hashing,
// throttling and device cookies). Their bcrypt cost is [Config.BcryptCost]
// (default 12, never below 10). The pepper of their password hashes is
// the file password-pepper.key in [Config.KeyDir], beside the device
// cookie key login-device.key (both made on first start, mode 0600), or
// kept in the database when that directory does not exist ([KeyFiles]). When a website starts, its accounts are
// set up on website.db; with the mongo session store they are prepared
// then (accounts of older versions migrated, accounts that differ only in
// case logged as an error), otherwise by their first use (so that a site
// that does not use auth needs no database). A site without website.db still starts; the auth hook and the
// builtins then fail with an error that says to set it.
//
// The hook trembling.auth:inbound must come after trembling.session:inbound
// in hooks.conf (New refuses the other order, naming the line). It reads
// nothing itself: the first time a request uses request.user,
// request.authenticated, login_required or [LoadUser], the login is read
// from the session and the account from the database, once for the
// request; a request that uses none of them costs neither. If the account
// is gone, inactive, or its password changed
// since the login (the session keeps a fingerprint of the password hash,
// [auth.Fingerprint]), the session is ended as by logout — so a password
// change, or disabling an account, ends every other session of that user —
// and the request goes on anonymous. It sets:
//
//   - request.user: None, or a read-only user with username, email (None
//     when there is none), is_active, created_at, last_login (time.time
//     values; last_login None before the first login) and id (the
//     canonical username); never the password hash. Templates see a map of the same:
//     {{ .request.user.username }} (with {{ with .request.user }} for
//     pages that anonymous visitors see).
//   - request.authenticated: True or False.
//   - request.login_error: "" until a login fails (see login).
//
// A database that cannot be reached is a 503, not a logout.
//
// The login is kept in the session under the reserved key "_auth", which
// request.session does not show and refuses to set (by any method), so a
// page cannot log a visitor in by writing to the session; only login
// does. request.session.clear() does not log out; logout does.
//
// The builtins:
//
//   - login(request, username, password) → True or False. On success the
//     session gets a new key (against session fixation) and keeps its
//     data, unless it was logged in as another user: then it is emptied
//     first (waiting messages stay). request.user and
//     request.authenticated change at once. On failure the session is
//     untouched and request.login_error is "invalid" (an unknown user, a
//     wrong or over-long password and an inactive account alike) or
//     "throttled" (too many recent attempts for that username, existing or
//     not, from browsers without a device cookie for it; or too many
//     failed logins on any accounts from the client's address, which is
//     the address a proxy of website.trusted_proxies supplies in
//     X-Forwarded-For when the request comes through one; even the right
//     password fails until the window passes), so the
//     page can say "too many attempts, try again later" without telling
//     whether the account exists. None as username or password (a missing
//     form field) fails as "invalid". A successful login also sets the
//     cookie "login_device" (HttpOnly, SameSite=Strict, a year), signed
//     with the key in Config.KeyDir's login-device.key: other clients'
//     failures never lock that browser out of that account. A login from
//     a browser without that cookie calls website.on_account_event, if a
//     startup hook set it (see [AccountEvent]). At most
//     website.max_password_checks passwords (default: the CPUs) are
//     checked at once; a login that waits website.password_check_wait
//     seconds (default 2) for its turn gets 503 with Retry-After.
//   - logout(request): the session is deleted in the store and its cookie
//     expired; the request goes on with a new empty session. Waiting
//     messages stay, so the next page may say "You are logged out".
//   - login_required(request, login_url=None): None for a logged-in
//     visitor, unless an operator set a temporary password
//     (request.user.must_change_password): then a 302 to
//     website.change_password_url (default /account/password.html) with
//     ?next=, except on that page itself; otherwise the request ends with a 302 to login_url, else
//     website.login_url (a str set by a startup hook), else
//     [Config.LoginURL], else /account/login.html, with
//     ?next=<the path and query asked for> (query-escaped; &next= when the
//     login URL already has a query).
//   - safe_next(request, default="/") → the request's "next" parameter (on
//     a POST the form body's, else the query string's) when [auth.SafeNext]
//     accepts it as a local path, else default.
//   - create_user(username, password, email=None, fail_if_taken=True) →
//     the new user, as request.user shows one; with fail_if_taken=False,
//     None for a username taken in any case (the loser of two
//     registrations at once).
//   - set_password(username, password): the user's other sessions end;
//     a request logged in as that user stays logged in, under a new
//     session key; website.on_account_event is called.
//   - check_password(password) → None when password follows the policy
//     of create_user and set_password, else a sentence saying why not.
//   - user_exists(username) → True or False, in any case. One client
//     address may ask it in website.user_exists_per_minute requests a
//     minute (default 20); beyond, 429 with Retry-After.
//
// # Re-authentication and the user's sessions
//
// A login records in the session when it was made, the client address
// (through website.trusted_proxies as for the login limits) and a summary
// of the browser from its User-Agent ("Firefox on Linux"). The builtins
// that need a recent login send an older one back to the login page:
//
//   - reauth_required(request, max_age): None when the request's login
//     was made at most max_age seconds ago. Otherwise the request ends
//     with a 302 to the login page (website.login_url, else
//     [Config.LoginURL], else /account/login.html) with ?next=, as
//     login_required does for an anonymous visitor, and &reauth=1 for a
//     logged-in one: that login page should then show its form again
//     (rather than "you are logged in"), for the same user. A login
//     stored by an older version, without its time, counts as old.
//   - change_password(request, current, new) → None when the logged-in
//     user's password is now new, else a sentence for the form: the
//     policy's (check_password's), [PasswordUnchanged],
//     [PasswordWrongCurrent] or [PasswordThrottled]. current is checked
//     as login checks a password, under the same throttle (a wrong one
//     counts as a failed login for the account, or the browser's device
//     cookie, and for the client's address; while throttled, even the
//     right one fails), and a success counts as a login (last_login).
//     Then the password is set (must_change_password is cleared), the
//     user's other sessions end (deleted from a store that lists them,
//     and on every store their fingerprint of the password no longer
//     matches), the request's own session stays logged in under a new
//     key with a fresh login time, and website.on_account_event gets
//     password_changed. When every password check is busy, 503 with
//     Retry-After, as for login. Without a login it is an error.
//   - user_sessions(request, max_age=900) → the live sessions of the
//     logged-in user, the newest first, as dicts: "id" (an opaque str
//     naming the session, from which its token cannot be found),
//     "created" and "last_used" (time.time values; last_used to the
//     minute), "client" (the browser summary of its login), "address"
//     (its login's client address) and "current" (True for the
//     request's own). It needs a login at most max_age seconds old
//     ([DefaultReauthMaxAge], 15 minutes), as reauth_required.
//   - end_session(request, id, max_age=900) → True when it ended the
//     user's session id (an "id" of user_sessions), as a logout would;
//     False for an id that names no other session of the user's: another
//     user's, one already ended, or the request's own (logout ends that).
//     It needs a recent login, as user_sessions.
//   - end_other_sessions(request, max_age=900) → how many of the user's
//     other sessions it ended; the request's own stays logged in. It
//     needs a recent login, as user_sessions.
//
// Sessions are listed without reading every stored one: the mongo and
// memory stores keep, for each user, an index of their sessions'
// ids (see [session.UserIndex]), which a login adds to and a logout or
// end_session removes from; listing reads that index and then each
// session by _id. With the mongo store the index is one small document
// per user who has logged in, kept exact under concurrent logins and
// logouts from any number of processes. The cookie store keeps each
// session in its own browser, so it can list none but the request's
// own: user_sessions gives that one alone, end_session ends nothing,
// and end_other_sessions moves the user's session epoch on (as logout
// does), which ends every other sealed session of the user at its next
// request, and returns -1.
//
// create_user and set_password refuse what the page passed with an
// [*AccountError] naming the username or the limit: 409 for a username
// already taken, 404 for an unknown account, 400 for an invalid username
// or e-mail address and for a password that breaks the policy (12 to 128
// characters, not one of the 10,000 most common passwords). A page avoids the common ones with user_exists.
// These builtins, and user_exists, work while serving a request, not in
// startup hooks (use aspengo user from the command line).
//
// Cross-site form posts (to the login page or any other) are refused by
// the website itself ([aspengo.Config.TrustedOrigins]).
//
// # Go API
//
// [SessionOf] gives Go code (builtins such as auth's login(request, ...),
// Go hooks) the current request's [Session]. There is one source of truth:
// the Starlark request.session. Session's Get, Set, Delete and Clear read
// and write through it, so a change made from Go during a Starlark call is
// seen by the page at once and saved with the page's own changes;
// [Session.RenewToken] and [Session.Destroy] act on the stored session as
// well. [UserOf] and [LoadUser] give the account the request is logged in
// as; package auth's Users, opened on website.db with the keys of
// [KeyFiles], manages the accounts from Go (as aspengo user does).
package trembling
