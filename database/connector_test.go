package database_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/simplate"
)

// serverURI returns the URI of a server for connector tests: MONGODB_URI,
// or a private embedded engine.
func serverURI(t *testing.T) string {
	t.Helper()
	if uri := os.Getenv(enginetest.EnvURI); uri != "" {
		return uri
	}
	return enginetest.Engine(t, filepath.Join(t.TempDir(), "data")).URI()
}

// withDatabase puts name in the path of a MongoDB URI.
func withDatabase(uri, name string) string {
	base, query, _ := strings.Cut(uri, "?")
	i := strings.Index(base, "://") + 3
	if j := strings.Index(base[i:], "/"); j >= 0 {
		base = base[:i+j]
	}
	s := base + "/" + name
	if query != "" {
		s += "?" + query
	}
	return s
}

func randomName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func newConnector(t *testing.T, uri string, opts ...database.Option) *database.Connector {
	t.Helper()
	c, err := database.New(t.Context(), uri, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// dropLater drops the database of h when the test ends.
func dropLater(t *testing.T, h *database.Handle) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), enginetest.OperationTimeout)
		defer cancel()
		if err := h.Database().Drop(ctx); err != nil {
			t.Errorf("drop %s: %v", h.Name(), err)
		}
	})
}

func TestConnect(t *testing.T) {
	t.Parallel()
	uri := serverURI(t)
	c := newConnector(t, uri, database.WithTimeout(enginetest.OperationTimeout))
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := c.DefaultDatabase(); got != database.DefaultDatabaseName && !strings.Contains(uri, "/"+got) {
		t.Errorf("DefaultDatabase = %q", got)
	}
	name1, name2 := randomName("conn_a_"), randomName("conn_b_")
	other := withDatabase(uri, name2)
	pre := c.Builtins()
	pre["name1"] = starlark.String(name1)
	pre["other"] = starlark.String(other)
	g := mustRun(t, pre, `
a = connect(name1)
a.things.insert_one({"_id": 1, "via": "name"})
b = connect(other)
b.things.insert_one({"_id": 1, "via": "uri"})
b2 = connect(name_or_uri=other)
via_b2 = b2.things.find_one({"_id": 1})["via"]
id = ObjectId()
`)
	h1, h2 := g["a"].(*database.Handle), g["b"].(*database.Handle)
	dropLater(t, h1)
	dropLater(t, h2)
	if h1.Name() != name1 || h2.Name() != name2 {
		t.Errorf("handles on %q and %q, want %q and %q", h1.Name(), h2.Name(), name1, name2)
	}
	if g["via_b2"] != starlark.String("uri") {
		t.Errorf("connect(uri) twice: read %v", g["via_b2"])
	}
	if h2.Database().Client() != g["b2"].(*database.Handle).Database().Client() {
		t.Error("connect with the same URI opened a second client")
	}
	if h1.Database().Client() != c.Client() {
		t.Error("connect(name) does not use the configured client")
	}
	// The same database through Go.
	hg, err := c.Handle(name1)
	if err != nil {
		t.Fatal(err)
	}
	g = mustRun(t, starlark.StringDict{"db": hg}, `n = db.things.count({"via": "name"})`)
	if g["n"] != starlark.MakeInt(1) {
		t.Errorf("Handle(%q) sees %v documents, want 1", name1, g["n"])
	}

	bad := []struct{ arg, want string }{
		{"", "empty database name"},
		{"a.b", "may contain only letters"},
		{"a b", "may contain only letters"},
		{"a/b", "may contain only letters"},
		{"a$", "may contain only letters"},
		{strings.Repeat("x", 64), "longer than 63 bytes"},
		{withDatabase(uri, ""), "names no database"},
		{withDatabase(uri, "bad.name"), "may contain only letters"},
		{"http://example.com/db", "not a mongodb:// or mongodb+srv:// URI"},
		{"mongodb://user:s3cret@[::1/db", "REDACTED"},
	}
	for _, tt := range bad {
		pre := c.Builtins()
		pre["arg"] = starlark.String(tt.arg)
		_, err := run(t, nil, pre, `connect(arg)`)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("connect(%q): %v, want an error containing %q (and no password)", tt.arg, err, tt.want)
		}
	}
	if _, err := run(t, nil, c.Builtins(), `connect(1)`); err == nil {
		t.Error("connect(1): no error")
	}
	if _, err := c.Handle("a.b"); err == nil {
		t.Error(`Handle("a.b"): no error`)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newConnector(t, "mongodb://127.0.0.1:1/fromuri", database.WithTimeout(time.Second))
	if c.DefaultDatabase() != "fromuri" || c.Timeout() != time.Second {
		t.Errorf("DefaultDatabase %q, Timeout %v; want fromuri, 1s", c.DefaultDatabase(), c.Timeout())
	}
	c = newConnector(t, "mongodb://127.0.0.1:1/fromuri", database.WithDefaultDatabase("opt"))
	if c.DefaultDatabase() != "opt" || c.Timeout() != database.DefaultTimeout {
		t.Errorf("DefaultDatabase %q, Timeout %v; want opt, default", c.DefaultDatabase(), c.Timeout())
	}
	c = newConnector(t, "mongodb://127.0.0.1:1")
	if c.DefaultDatabase() != database.DefaultDatabaseName {
		t.Errorf("DefaultDatabase %q, want %q", c.DefaultDatabase(), database.DefaultDatabaseName)
	}
	for _, tt := range []struct {
		uri  string
		opts []database.Option
	}{
		{"localhost:27017", nil},
		{"mongodb://127.0.0.1:1/bad.name", nil},
		{"mongodb://127.0.0.1:1", []database.Option{database.WithDefaultDatabase("no/slash")}},
		{"mongodb://127.0.0.1:1", []database.Option{database.WithTimeout(0)}},
		{"mongodb://127.0.0.1:1/?connectTimeoutMS=abc", nil},
	} {
		if c, err := database.New(ctx, tt.uri, tt.opts...); err == nil {
			_ = c.Close(ctx)
			t.Errorf("New(%q): no error", tt.uri)
		}
	}

	// After Close, handles and connect fail; a handle made before fails
	// as unavailable.
	c, err := database.New(ctx, "mongodb://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Handle("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, nil, starlark.StringDict{"db": h}, `db.c.count()`); !database.IsUnavailable(err) {
		t.Errorf("operation after Close: %v; want an *UnavailableError", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Handle("x"); err == nil {
		t.Error("Handle after Close: no error")
	}
	if _, err := run(t, nil, c.Builtins(), `connect("mongodb://127.0.0.1:2/x")`); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("connect after Close: %v", err)
	}
}

// TestUnavailable stops the engine under a handle and checks that an
// operation then fails with an *UnavailableError (HTTP 503), bounded by the
// connector's timeout rather than hanging.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := enginetest.Engine(t, filepath.Join(t.TempDir(), "data"))
	const timeout = time.Second
	c := newConnector(t, e.URI(), database.WithTimeout(timeout))
	h, err := c.Handle("svc")
	if err != nil {
		t.Fatal(err)
	}
	// The first operation may have to wait for the connection under -race.
	for i := 0; ; i++ {
		_, err := run(t, nil, starlark.StringDict{"db": h}, `db.c.insert_one({"x": 1})`)
		if err == nil {
			break
		}
		if i == 5 {
			t.Fatalf("insert before stopping the engine: %v", err)
		}
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	for _, call := range []string{`db.c.find_one({"x": 1})`, `db.c.insert_one({"x": 2})`, `db.c.find()`, `db.c.count()`} {
		start := time.Now()
		_, err := run(t, nil, starlark.StringDict{"db": h}, call)
		elapsed := time.Since(start)
		var ue *database.UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("%s with the engine stopped: %v; want an *UnavailableError", call, err)
		}
		var hs interface{ HTTPStatus() int }
		if !errors.As(err, &hs) || hs.HTTPStatus() != http.StatusServiceUnavailable {
			t.Errorf("%s: no HTTPStatus 503 in %v", call, err)
		}
		if !strings.HasPrefix(ue.Op, "c.") || !database.IsUnavailable(err) {
			t.Errorf("%s: Op %q", call, ue.Op)
		}
		t.Logf("%s failed after %v", call, elapsed)
		// Not a speed target: the operation must end because of the
		// timeout, not hang (the driver's own default would be 30s).
		if elapsed > timeout+10*time.Second {
			t.Errorf("%s took %v with a timeout of %v", call, elapsed, timeout)
		}
	}
	if err := c.Ping(ctx); !database.IsUnavailable(err) {
		t.Errorf("Ping with the engine stopped: %v; want an *UnavailableError", err)
	}
}

// TestRequestContext checks that operations run under the context of the
// request the Starlark thread serves.
func TestRequestContext(t *testing.T) {
	t.Parallel()
	h := testHandle(t)
	mustRun(t, env(h), `db.c.insert_one({"_id": 1})`)

	ctx, cancel := context.WithCancel(t.Context())
	thread := &starlark.Thread{Name: "request"}
	simplate.SetContext(thread, ctx) // as the website does for a request's thread
	if _, err := run(t, thread, env(h), `d = db.c.find_one({"_id": 1})`); err != nil {
		t.Fatalf("with a live request context: %v", err)
	}
	cancel()
	_, err := run(t, thread, env(h), `d = db.c.find_one({"_id": 1})`)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled request context: %v; want context.Canceled", err)
	}
	if database.IsUnavailable(err) {
		t.Error("a cancelled request is reported as the database being unavailable")
	}
}
