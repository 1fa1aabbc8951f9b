// Package aspengo is a small web framework in the spirit of Python's Aspen:
// the files under a www root are the site, templated pages are simplates,
// and hooks listed in www/.aspen/hooks.conf run around every request.
//
// # The pipeline
//
// A [Website] is an [http.Handler]. Every request goes through, in order:
//
//  1. the inbound_early hooks;
//  2. dispatch: the URL path is resolved to a file under the www root
//     (names starting with "." are never served, %name segments are
//     virtual, a directory gets its index document);
//  3. the inbound_late hooks;
//  4. the resource: a static file (served with [http.ServeContent]) or a
//     simplate (package simplate);
//  5. the outbound_early hooks, exactly once;
//  6. the outbound_late hooks, always, also after errors and redirects.
//
// Any inbound hook or simplate may end the request early by returning a
// [*Response] (see [Request.Redirect] and [Request.Abort]; Starlark code
// calls abort() or request.redirect()): the rest of the inbound work is
// skipped and the outbound hooks still run. A response with a code of 400
// or more and no body gets the error page: www/.aspen/<code>.html, else
// www/.aspen/error.html, else a built-in page. Any other failure is a 500,
// logged with its traceback, which the page shows only with
// [Config].ShowTracebacks. An error that implements [StatusError] (a
// database that cannot be reached) answers with its own status instead.
// Unsafe cross-origin requests (a cross-site form post) are refused with a
// 403 before any hook runs.
//
// # hooks.conf
//
// www/.aspen/hooks.conf is Aspen's format: six sections, in the order
// startup, inbound_early, inbound_late, outbound_early, outbound_late,
// shutdown, separated by a page break — a form feed or the two characters
// ^L. As in Aspen, a page break counts wherever it stands, even inside a
// comment. "#" starts a comment; blank lines are ignored. Every other line
// names one hook as module:function: a built-in hook registered from Go
// in a [Registry] (trembling.session:inbound), or a hook written in
// Starlark (database:startup is the function startup in
// www/.aspen/database.star, called with the website, request or response
// of its phase). An unknown hook, a missing .star file or function, a
// built-in hook in a phase it cannot serve, hooks out of the order a hook
// requires ([Hook].After) and a hook listed twice in a section are errors
// reported as file:line by [New] and [Check].
//
// # Extensions
//
// Built-in hooks, Starlark builtins and request attributes are registered
// from Go in a [Registry], which is the only shared state; packages such
// as trembling add their own without this package knowing of them.
// Startup hooks set attributes on the website (website.db,
// website.title), which are read-only once [Website.Start] returns. An
// extension keeps its own per-website state, out of Starlark's sight,
// with [Website.SetValue] at startup and [Website.Value] afterwards, and
// per-request state with [Request.SetValue] and [Request.Value]. Builtins
// reach the request they serve with [RequestFromThread], and its context
// with simplate.Context.
package aspengo
