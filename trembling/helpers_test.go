package trembling_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/internal/logbuf"
	"github.com/aspengo/aspengo/trembling"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// quiet discards a website's log.
var quiet = slog.New(slog.DiscardHandler)

// siteOptions configure startSite.
type siteOptions struct {
	root string           // www root; "" means testdata/site
	uri  string           // MongoDB URI for connect(); "" means a server that is never contacted
	cfg  trembling.Config // Store "" means memory
	tls  bool             // serve over TLS
	// dbTimeout is the database connector's operation timeout; 0 means
	// enginetest.OperationTimeout.
	dbTimeout time.Duration
	// tune, when not nil, adjusts the registered trembling before Start.
	tune func(*trembling.Trembling)
}

// testSite is a started website behind an httptest server.
type testSite struct {
	t    testing.TB
	w    *aspengo.Website
	tr   *trembling.Trembling
	srv  *httptest.Server
	log  *logbuf.Buffer
	conn *database.Connector
	once sync.Once
}

// startSite starts the website of o, with the test builtins go_login and
// go_logout, and stops it when the test ends.
func startSite(t testing.TB, o siteOptions) *testSite {
	t.Helper()
	if o.root == "" {
		o.root = filepath.Join("testdata", "site")
	}
	if o.cfg.Store == "" {
		o.cfg.Store = trembling.StoreMemory
	}
	s := &testSite{t: t, log: &logbuf.Buffer{}}
	reg := aspengo.NewRegistry()
	if o.uri == "" {
		// connect() contacts no server: website.db is a handle that the
		// memory and cookie stores never use.
		o.uri = "mongodb://127.0.0.1:1"
	}
	{
		timeout := o.dbTimeout
		if timeout == 0 {
			timeout = enginetest.OperationTimeout
		}
		conn, err := database.New(context.Background(), o.uri, database.WithTimeout(timeout))
		if err != nil {
			t.Fatal(err)
		}
		s.conn = conn
		if err := reg.Builtin("connect", conn.Builtin()); err != nil {
			t.Fatal(err)
		}
	}
	for name, fn := range map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
		"go_login":  goLogin,
		"go_logout": goLogout,
	} {
		if err := reg.Builtin(name, starlark.NewBuiltin(name, fn)); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := trembling.Register(reg, o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.tune != nil {
		o.tune(tr)
	}
	s.tr = tr
	log := slog.New(slog.NewTextHandler(s.log, nil))
	w, err := aspengo.New(aspengo.Config{Root: o.root, Registry: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s.w = w
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Start(ctx); err != nil {
		w.Shutdown(ctx)
		s.closeConn()
		t.Fatalf("Start: %v", err)
	}
	if o.tls {
		s.srv = httptest.NewTLSServer(w)
	} else {
		s.srv = httptest.NewServer(w)
	}
	t.Cleanup(s.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the site at %s:\n%s", o.root, s.log.String())
		}
	})
	return s
}

func (s *testSite) closeConn() {
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.conn.Close(ctx)
	}
}

// stop closes the server, shuts the website down and disconnects; it
// may be called early, as for a restart.
func (s *testSite) stop() {
	s.once.Do(func() {
		s.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.w.Shutdown(ctx); err != nil {
			s.t.Errorf("Shutdown: %v", err)
		}
		s.closeConn()
	})
}

// logged reports whether the site's log holds msg, which the text
// handler writes quoted.
func (s *testSite) logged(msg string) bool {
	q := strconv.Quote(msg)
	return strings.Contains(s.log.String(), q[1:len(q)-1])
}

// count returns the number of records in the site's session store.
func (s *testSite) count() int {
	s.t.Helper()
	c, ok := s.tr.Manager(s.w).Store.(interface {
		Count(context.Context) (int, error)
	})
	if !ok {
		s.t.Fatalf("store %s cannot count", s.tr.StoreName(s.w))
	}
	n, err := c.Count(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// newClient returns a client with a cookie jar that does not follow
// redirects, for s (TLS-aware).
func newClient(t testing.TB, s *testSite) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *s.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// result is a response, read whole.
type result struct {
	code   int
	body   string
	header http.Header
}

func (r result) String() string { return fmt.Sprintf("%d %q", r.code, r.body) }

// get requests path of s with c.
func get(t testing.TB, c *http.Client, s *testSite, path string) result {
	t.Helper()
	return do(t, c, s, http.MethodGet, path, nil)
}

// post sends form to path of s with c.
func post(t testing.TB, c *http.Client, s *testSite, path string, form url.Values) result {
	t.Helper()
	return do(t, c, s, http.MethodPost, path, form)
}

func do(t testing.TB, c *http.Client, s *testSite, method, path string, form url.Values) result {
	t.Helper()
	return doHeader(t, c, s, method, path, form, nil)
}

// sessionCookie returns the session_key cookie a response sets, or nil.
func sessionCookie(h http.Header) *http.Cookie {
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && (c.Name == "session_key" || c.Name == "__Host-session_key") {
			return c
		}
	}
	return nil
}

// jarValue returns the session_key value c's jar holds for s, or "".
func jarValue(t testing.TB, c *http.Client, s *testSite) string {
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "session_key" || ck.Name == "__Host-session_key" {
			return ck.Value
		}
	}
	return ""
}

// goLogin is the test builtin go_login(request, name): what auth's login
// does from Go, in the middle of a page. It returns what Go saw of the
// page's "count" key.
func goLogin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv starlark.Value
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv, "name", &name); err != nil {
		return nil, err
	}
	var ra aspengo.RequestArg
	if err := ra.Unpack(reqv); err != nil {
		return nil, err
	}
	r := ra.Request
	s, err := trembling.SessionOf(r)
	if err != nil {
		return nil, err
	}
	v, found := s.Get("count")
	saw := fmt.Sprintf("%T:%v:%v", v, v, found)
	if err := s.RenewToken(r.Context()); err != nil {
		return nil, err
	}
	if err := s.Set("user", map[string]any{"name": name, "id": int64(7)}); err != nil {
		return nil, err
	}
	return starlark.String(saw), nil
}

// goLogout is the test builtin go_logout(request): auth's logout.
func goLogout(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv); err != nil {
		return nil, err
	}
	var ra aspengo.RequestArg
	if err := ra.Unpack(reqv); err != nil {
		return nil, err
	}
	r := ra.Request
	s, err := trembling.SessionOf(r)
	if err != nil {
		return nil, err
	}
	return starlark.None, s.Destroy(r.Context())
}

// engineURI starts an embedded engine on a new directory for the test.
func engineURI(t testing.TB) string {
	return enginetest.Engine(t, filepath.Join(t.TempDir(), "data")).URI()
}
