package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo/internal/logbuf"
)

func TestHealthHandler(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("no server") }
	// hang is a database that never answers: only the check's own
	// deadline ends it.
	hang := func(ctx context.Context) error {
		dl, has := ctx.Deadline()
		if !has || time.Until(dl) > time.Second {
			return errors.New("the check has no deadline within 1 s")
		}
		<-ctx.Done()
		return ctx.Err()
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "site") })
	tests := []struct {
		name, method, path string
		ping               func(context.Context) error
		code               int
		body               string
	}{
		{"reachable", "GET", "/.aspen/health", ok, 200, "ok\n"},
		{"head", "HEAD", "/.aspen/health", ok, 200, ""},
		{"unreachable", "GET", "/.aspen/health", down, 503, "database unreachable\n"},
		{"hanging database", "GET", "/.aspen/health", hang, 503, "database unreachable\n"},
		{"post", "POST", "/.aspen/health", ok, 405, "method not allowed\n"},
		{"other paths go to the site", "GET", "/index.html", down, 200, "site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withHealth(defaultHealthPath, tt.ping, slog.New(slog.DiscardHandler), next)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil))
			if rec.Code != tt.code || rec.Body.String() != tt.body {
				t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
			}
		})
	}
}

// TestHealthLogsChangesOnly: polls are not logged one by one; a change of
// state is, once.
func TestHealthLogsChangesOnly(t *testing.T) {
	var logs logbuf.Buffer
	var failing bool
	ping := func(context.Context) error {
		if failing {
			return errors.New("no server")
		}
		return nil
	}
	h := withHealth(defaultHealthPath, ping, slog.New(slog.NewTextHandler(&logs, nil)), http.NotFoundHandler())
	poll := func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), "GET", defaultHealthPath, nil))
	}
	poll()
	poll()
	failing = true
	poll()
	poll()
	failing = false
	poll()
	poll()
	got := logs.String()
	if n := strings.Count(got, "\n"); n != 2 || !strings.Contains(got, "unreachable") || !strings.Contains(got, "reachable again") {
		t.Errorf("log:\n%s\nwant one line when the database became unreachable and one when it came back", got)
	}
}

func TestHealthFlag(t *testing.T) {
	for _, tt := range []struct {
		path string
		ok   bool
	}{{"/.aspen/health", true}, {"/healthz", true}, {"", true}, {"healthz", false}, {"/h?x=1", false}} {
		if err := checkHealthPath(tt.path); (err == nil) != tt.ok {
			t.Errorf("checkHealthPath(%q) = %v", tt.path, err)
		}
	}
}

// TestServeHealth: aspengo serve answers its health check, from outside
// the www tree and without an access log line, and --health moves it.
func TestServeHealth(t *testing.T) {
	logs := &logbuf.Buffer{}
	base, stop := runServeLogs(t, nil, logs, "--root", "testdata/counter", "--data", t.TempDir(), "--health", "/healthz")
	for _, tt := range []struct {
		path string
		code int
	}{{"/healthz", 200}, {"/.aspen/health", 404}, {"/counter.html", 200}} {
		resp, err := noFollow.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
	}
	stop() // the access log is buffered: stopping writes it out
	got := logs.String()
	if strings.Contains(got, "path=/healthz") || !strings.Contains(got, "path=/counter.html") {
		t.Errorf("access log:\n%s\nwant /counter.html and not /healthz", got)
	}
}
