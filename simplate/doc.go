// Package simplate parses, compiles, caches and runs simplates: the
// templated pages of an aspengo site, in the format of Python's Aspen.
//
// # Files
//
// A file is a simplate when its name ends in .spt, or when it is a text
// file (text/* or JSON by extension, per mime.TypeByExtension) that
// contains a page break. Other files are static: [Loader.Load] returns
// [ErrNotSimplate] for them. A page break is
//
//   - a form feed character, anywhere in a line. When only blanks follow it
//     on its line, the next page starts on the next line; otherwise it
//     starts right after the form feed;
//   - a line holding only the two characters ^L (blanks around them are
//     allowed). Unlike Aspen, ^L inside a longer line is text, so that a
//     static script containing /^L/ stays static;
//   - a line starting with [---] (three or more dashes), Aspen's later
//     syntax. The rest of that line, Aspen's "specline", is ignored.
//
// CRLF line endings are read as LF.
//
// # Pages
//
// A template simplate has 1 to 3 pages:
//
//	3 pages: Starlark run once · Starlark run per request · template
//	2 pages: Starlark run per request · template
//	1 page (.spt only): template
//
// A JSON simplate (foo.json, foo.json.spt, or another +json type) has 1 or
// 2 Starlark pages, per request or once · per request, and no template;
// [Simplate.Run] returns no body and the caller encodes response.body.
// More pages are a compile error located at the extra page break.
//
// The once-page runs when the file is compiled, with the Options.Builtins
// (plus the json, time and math modules); its globals are frozen and are
// visible to the per-request page and to the template. The per-request
// page additionally sees the Options.Globals (request, response, website)
// given to Run. The template's data is the once-page's globals, those
// values and the per-request page's globals, converted by [ToGo];
// callables are left out. So a template reads {{ .name }},
// {{ .request.user.username }}, {{ range .request.messages }}...{{ end }}.
// Go templates range over maps in key order, not dict insertion order.
// In a page, load() binds global names (as Python imports did in Aspen),
// so what the once-page loads is visible to the per-request page.
//
// Starlark runs with top-level if/for, while, global reassignment and
// sets enabled, and with a step limit (Options.MaxSteps) per execution,
// so a runaway loop ends with an error. Cancelling a thread on a context
// is the caller's job (thread.Cancel).
//
// # Templates
//
// Simplates whose type is text/html (or application/xhtml+xml) use
// html/template, with contextual auto-escaping. Every .aspen/*.html file
// is parsed, once, into a shared set under its file name, so a page can
// write {{ define "content" }}...{{ end }}{{ template "base.html" . }};
// each simplate works on its own clone of the set, made at compile time,
// so templates it defines do not leak into other pages. Templates that
// several .aspen files define under the same name collide: the file
// that sorts last wins (a layout's {{ block }} is fine, as pages define
// their own). [Loader.RenderTemplate] renders a shared template itself,
// for error pages.
//
// HTML and XML simplates (text/html, application/xhtml+xml, text/xml,
// application/xml, image/svg+xml and every other +xml type) use
// html/template. Simplates of any other type (text/plain, text/css, ...) use
// text/template: no escaping, the shared HTML templates are not
// available, and None or a missing name prints as "<no value>" (in HTML
// simplates it prints nothing).
//
// # Modules
//
// Starlark code may load("helpers.star", "fn"): modules are files
// directly in .aspen, named with a .star suffix, and see the Builtins (not
// the per-request Globals). A module is executed once and cached; its
// globals are frozen. Load cycles are errors.
//
// # Caching
//
// Load compiles a file on first use and compiles it again when it
// changes; it checks the modification time and size of the file, of the
// shared templates (for an HTML simplate) and of the modules its
// once-page loaded on every call, so an edit shows on the next request.
// A new or removed .aspen/*.html file is noticed through the
// modification time of the .aspen directory, which operating-system file
// systems maintain (a fstest.MapFS does not). Modules loaded by the
// per-request page are looked up, and reloaded if changed, on each run.
// Every file compiles at most once per version, however many goroutines
// ask for it. With Options.Changes (a file watcher's count of changes) the
// checks are skipped while the count stays the same, so an unchanged
// site is served without a stat.
//
// A template's data holds only what the template can read: each compiled
// template set is analysed once (see needs.go), and Run converts only the
// names, and the fields of values that implement [TemplateFieldsValuer],
// that the template can reach; where the analysis cannot tell ({{ . }},
// {{ with .request }}, a value stored in a variable), it converts all.
//
// # Errors
//
// Compile and runtime errors are [*Error] values whose text is
// "file:line: message", with line numbers of the whole file, not of one
// page, and the file shown with Options.RootName in front:
// "www/foo.html.spt:7: undefined: x". A broken simplate gives its error
// from Load until it is fixed; other simplates are unaffected, except that
// an error in a shared .aspen/*.html template breaks every HTML simplate.
package simplate
