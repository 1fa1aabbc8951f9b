// Package example holds the example site of aspengo, Todoy, and its tests.
//
// The site is the directory www: a small todo list in which every visitor
// registers, logs in and keeps a list of their own. It shows simplates,
// hooks.conf, Starlark hooks, trembling's sessions, messages and accounts,
// and the Starlark MongoDB API. Run it with
//
//	go run ./cmd/aspengo serve --root example/www
//
// The tests start the site in-process on a fresh embedded database. The
// fast ones drive it over HTTP; the ones whose names contain E2E drive it
// with a real browser, Debian's chromium, through chromedp (make e2e). They
// save screenshots in the directory artifacts, or in $ASPENGO_E2E_ARTIFACTS.
package example
