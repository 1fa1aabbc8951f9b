// Package sitetest starts aspengo websites for tests, in the style of
// net/http/httptest: [New] makes a website from an [aspengo.Config], runs
// its startup hooks, serves it on a loopback httptest server and stops
// both when the test ends.
//
// The root package's own (in-package) tests cannot import this package,
// which imports the root package; they use a small helper of their own.
package sitetest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/logbuf"
)

// stopTimeout bounds the shutdown hooks of a site that is closed. Close
// runs after the test's context is done, so it cannot use that.
const stopTimeout = time.Minute

// A Site is a started website served by an httptest server.
type Site struct {
	// URL is the base URL of the server, http://127.0.0.1:port (https
	// with [TLS]), with no trailing slash.
	URL string
	// Website is the started website, for tests that call its
	// ServeHTTP directly or look at its state.
	Website *aspengo.Website
	// Server is the httptest server in front of Website.
	Server *httptest.Server

	tb   testing.TB
	log  *logbuf.Buffer // nil when the Config had its own Logger
	once sync.Once
}

// An Option changes how [New] serves a site.
type Option func(*options)

type options struct {
	tls     bool
	handler func(http.Handler) http.Handler
}

// TLS serves the site over HTTPS, as httptest.NewTLSServer does; the
// clients of [Site.Client] trust its certificate.
func TLS() Option { return func(o *options) { o.tls = true } }

// Handler serves wrap(website) instead of the website itself, for a
// site mounted under a prefix or behind a middleware.
func Handler(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) { o.handler = wrap }
}

// Start makes the website cfg describes and runs its startup hooks, for a
// test that calls its ServeHTTP directly; it is shut down when tb ends,
// and a failed shutdown fails tb. Its log is discarded unless cfg has a
// Logger.
func Start(tb testing.TB, cfg aspengo.Config) *aspengo.Website {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := start(tb, cfg)
	tb.Cleanup(func() { shutdown(tb, w) })
	return w
}

// New makes the website cfg describes, runs its startup hooks and serves
// it on a new httptest server on the loopback interface. The server is
// closed and the website shut down when tb ends (or at [Site.Close]).
// When cfg has no Logger, the site logs as text into a buffer ([Site.Log])
// that is shown if tb failed.
func New(tb testing.TB, cfg aspengo.Config, opts ...Option) *Site {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Site{tb: tb}
	if cfg.Logger == nil {
		s.log = &logbuf.Buffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(s.log, nil))
	}
	s.Website = start(tb, cfg)
	var h http.Handler = s.Website
	if o.handler != nil {
		h = o.handler(h)
	}
	if o.tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	s.URL = s.Server.URL
	tb.Cleanup(func() {
		s.Close()
		if tb.Failed() && s.log != nil {
			tb.Logf("log of the site at %s:\n%s", cfg.Root, s.log.String())
		}
	})
	return s
}

// start makes and starts the website of cfg, failing tb if it cannot.
func start(tb testing.TB, cfg aspengo.Config) *aspengo.Website {
	tb.Helper()
	w, err := aspengo.New(cfg)
	if err != nil {
		tb.Fatalf("aspengo.New(%s): %v", cfg.Root, err)
	}
	if err := w.Start(tb.Context()); err != nil {
		shutdown(tb, w)
		tb.Fatalf("Start(%s): %v", cfg.Root, err)
	}
	return w
}

// shutdown runs w's shutdown hooks, reporting a failure to tb.
func shutdown(tb testing.TB, w *aspengo.Website) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		tb.Errorf("Shutdown: %v", err)
	}
}

// Close closes the server, waiting for its requests, then shuts the
// website down. It is called when the test ends; a test may call it
// before, as for a restart. Later calls do nothing.
func (s *Site) Close() {
	s.once.Do(func() {
		s.Server.Close()
		shutdown(s.tb, s.Website)
	})
}

// Client returns a new client for the site: it trusts the server's
// certificate, keeps cookies in a jar of its own, and returns redirects
// instead of following them, so that a test sees them.
func (s *Site) Client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	c := *s.Server.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Log returns what the site has logged so far, in slog's text format, or
// "" when its Config had a Logger of its own.
func (s *Site) Log() string {
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Logged reports whether the site's log holds msg, as the text handler
// writes it (quoted where it needs quotes).
func (s *Site) Logged(msg string) bool {
	q := strconv.Quote(msg)
	return strings.Contains(s.Log(), q[1:len(q)-1])
}
