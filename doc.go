// Package aspengo is a small web framework in the spirit of Python's Aspen:
// the files under a www root are the site, templated pages are simplates,
// and hooks listed in www/.aspen/hooks.conf run around every request.
//
// A [Website] is an [http.Handler]. Each request passes through the
// pipeline described in DESIGN.md: inbound_early hooks, dispatch of the URL
// path to a file, inbound_late hooks, the resource (a static file or a
// simplate), outbound_early hooks exactly once and outbound_late hooks always.
//
// Built-in hooks and Starlark builtins are registered from Go in a
// [Registry]; packages such as trembling add their own without this package
// knowing of them.
package aspengo
