package example_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/internal/logbuf"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
)

// root is the example site, relative to this package's directory.
const root = "www"

// newRegistry wires what the example needs, as aspengo serve does:
// connect and ObjectId from conn, and trembling's hooks and builtins.
func newRegistry(t testing.TB, conn *database.Connector) *aspengo.Registry {
	t.Helper()
	reg := aspengo.NewRegistry()
	for name, v := range conn.Builtins() {
		if err := reg.Builtin(name, v); err != nil {
			t.Fatal(err)
		}
	}
	// The lowest bcrypt cost allowed keeps the many logins of the tests
	// quick; aspengo serve uses the default.
	if _, err := trembling.Register(reg, trembling.Config{BcryptCost: auth.LowestCost}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// site is the example running in-process, on an embedded engine of its
// own with a fresh data directory, behind an httptest server.
type site struct {
	URL  string
	conn *database.Connector
	log  *logbuf.Buffer
}

// startSite starts the example site and stops it when the test ends; the
// site's log is shown if the test fails.
func startSite(t testing.TB) *site {
	t.Helper()
	eng := enginetest.Engine(t, filepath.Join(t.TempDir(), "data"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := database.New(ctx, eng.URI(), database.WithTimeout(enginetest.OperationTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // registered after the engine's, so it runs before
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	s := &site{conn: conn, log: &logbuf.Buffer{}}
	w, err := aspengo.New(aspengo.Config{
		Root:     root,
		Registry: newRegistry(t, conn),
		Logger:   slog.New(slog.NewTextHandler(s.log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		w.Shutdown(ctx)
		t.Fatalf("Start: %v", err)
	}
	srv := httptest.NewServer(w)
	s.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("log of the site:\n%s", s.log.String())
		}
	})
	return s
}

// todos is the collection of the site's todos, for checks behind the
// site's back.
func (s *site) todos() *mongo.Collection {
	return s.conn.Client().Database("todoy").Collection("todos")
}

// visitor is one browser's worth of HTTP client: its own cookie jar, and
// redirects are not followed so that tests see them.
type visitor struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (s *site) visitor(t testing.TB) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, base: s.URL, c: &http.Client{
		Jar:           jar,
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// answer is a response as a test looks at it.
type answer struct {
	code     int
	location string
	ctype    string
	body     string
}

func (v *visitor) do(req *http.Request) answer {
	v.t.Helper()
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return answer{
		code:     resp.StatusCode,
		location: resp.Header.Get("Location"),
		ctype:    resp.Header.Get("Content-Type"),
		body:     string(body),
	}
}

// get requests path.
func (v *visitor) get(path string) answer {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.base+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// post sends a form to path, as a browser does with a form of this site.
func (v *visitor) post(path string, form url.Values) answer {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}
