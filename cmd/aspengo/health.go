package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// defaultHealthPath is where aspengo serve answers health checks. Its
// segment starts with a dot, so no file of the www tree can be served
// there.
const defaultHealthPath = "/.aspen/health"

// healthTimeout bounds one health check, so that a load balancer polling
// with a 1 s timeout gets an answer, not a timeout.
const healthTimeout = 900 * time.Millisecond

// checkHealthPath refuses a --health value that cannot be a URL path.
func checkHealthPath(p string) error {
	if p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# \t")) {
		return fmt.Errorf("--health %q: want a URL path such as %s, or empty to turn it off", p, defaultHealthPath)
	}
	return nil
}

// healthHandler answers GET and HEAD requests for path, and passes every
// other request to next. The answer is 200 "ok" when ping reaches the
// database within healthTimeout, else 503. Checks are not logged one by
// one: only a change of state is, once.
type healthHandler struct {
	path    string
	ping    func(context.Context) error
	next    http.Handler
	log     *slog.Logger
	failing atomic.Bool
}

// withHealth returns next with a health check at path; an empty path
// returns next unchanged.
func withHealth(path string, ping func(context.Context) error, log *slog.Logger, next http.Handler) http.Handler {
	if path == "" {
		return next
	}
	return &healthHandler{path: path, ping: ping, next: next, log: log}
}

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.path {
		h.next.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	err := h.ping(ctx)
	if err != nil {
		if !h.failing.Swap(true) {
			h.log.Warn("health check: database unreachable", "err", err.Error())
		}
		writeHealth(w, r, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	if h.failing.Swap(false) {
		h.log.Info("health check: database reachable again")
	}
	writeHealth(w, r, http.StatusOK, "ok")
}

// writeHealth writes the answer, without a body to a HEAD request.
func writeHealth(w http.ResponseWriter, r *http.Request, code int, text string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, text)
	}
}
