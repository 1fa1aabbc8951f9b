// Package hooks holds general-purpose built-in hooks that are not
// trembling's: behaviour that many sites want and that is written in Go.
// Finding and calling hooks written in Starlark is the website's own job
// (package aspengo, beside the hooks.conf parser).
//
// # Security headers
//
// The default security headers ([SetSecurityHeaders]) are not a hook
// listed in hooks.conf: a site should not have to opt in to them. The
// website applies them to every response once the outbound hooks have
// run (error pages, redirects and static files included), and keeps any
// of those headers that a page or hook set itself, so a page that must be
// framed sets its own Content-Security-Policy or X-Frame-Options.
package hooks
