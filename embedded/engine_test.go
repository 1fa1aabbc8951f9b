package embedded_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/aspengo/aspengo/embedded"
	"github.com/aspengo/aspengo/embedded/enginetest"
)

func ping(t *testing.T, c *mongo.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Ping(ctx, readpref.Primary()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func closeEngine(t *testing.T, e *embedded.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func disconnect(t *testing.T, c *mongo.Client) {
	t.Helper()
	if err := c.Disconnect(context.Background()); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
}

type item struct {
	ID   string `bson:"_id"`
	Name string `bson:"name"`
	N    int    `bson:"n"`
}

func TestDataSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data") // created by Open
	goroutines := runtime.NumGoroutine()

	e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Owner() {
		t.Fatal("first Open is not the owner")
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
	sock := filepath.Join(dir, embedded.SocketFile)
	if want := "mongodb://" + url.QueryEscape(sock) + "/"; e.URI() != want {
		t.Errorf("URI = %q, want %q", e.URI(), want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, embedded.URIFile)); err != nil || strings.TrimSpace(string(b)) != e.URI() {
		t.Errorf("%s = %q, %v; want %q", embedded.URIFile, b, err, e.URI())
	}

	c, err := mongo.Connect(enginetest.ClientOptions(e.URI()))
	if err != nil {
		t.Fatal(err)
	}
	want := []item{{ID: "a", Name: "apple", N: 1}, {ID: "b", Name: "banana", N: 2}}
	if _, err := c.Database("app").Collection("items").InsertMany(ctx, want); err != nil {
		t.Fatal(err)
	}
	disconnect(t, c)
	closeEngine(t, e)
	closeEngine(t, e) // idempotent

	for _, name := range []string{embedded.SocketFile, embedded.URIFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s after Close: %v; want it removed", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "app.sqlite")); err != nil {
		t.Errorf("database file: %v", err)
	}
	waitGoroutines(t, goroutines)

	e2, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e2)
	if !e2.Owner() {
		t.Fatal("Open after Close is not the owner")
	}
	c2 := enginetest.Connect(t, e2.URI())
	cur, err := c2.Database("app").Collection("items").Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var got []item
	if err := cur.All(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}

// waitGoroutines waits for the goroutine count to fall back to n: FerretDB's
// and the proxy's goroutines must all have ended after Close.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, want <= %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecondOpenConnectsToOwner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	owner := enginetest.Engine(t, dir)

	client, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if client.Owner() {
		t.Fatal("second Open on a running directory is an owner")
	}
	if client.URI() != owner.URI() {
		t.Errorf("client URI = %q, want the owner's %q", client.URI(), owner.URI())
	}

	c := enginetest.Connect(t, client.URI())
	if _, err := c.Database("app").Collection("items").InsertOne(ctx, item{ID: "x", Name: "via client"}); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Closing the client stopped nothing: the owner still serves the data.
	c2 := enginetest.Connect(t, owner.URI())
	var got item
	if err := c2.Database("app").Collection("items").FindOne(ctx, bson.M{"_id": "x"}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "via client" {
		t.Errorf("got %+v", got)
	}

	// Once the owner stops, the next Open becomes the owner.
	disconnect(t, c)
	disconnect(t, c2)
	closeEngine(t, owner)
	next := enginetest.Engine(t, dir)
	if !next.Owner() {
		t.Error("Open after the owner closed is not the owner")
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, embedded.SocketFile)
	// A socket file nobody listens on, as left by a crashed owner, and a
	// URI file pointing at it.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	uri := "mongodb://" + url.QueryEscape(sock) + "/\n"
	if err := os.WriteFile(filepath.Join(dir, embedded.URIFile), []byte(uri), 0o600); err != nil {
		t.Fatal(err)
	}

	e := enginetest.Engine(t, dir)
	if !e.Owner() {
		t.Fatal("Open over a stale socket is not the owner")
	}
	ping(t, enginetest.Connect(t, e.URI()))
}

func TestLongPathFallsBackToPrivateSocketDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 6))
	if len(filepath.Join(dir, embedded.SocketFile)) <= 108 {
		t.Fatal("test directory path is not long enough")
	}
	e := enginetest.Engine(t, dir)
	host := strings.TrimSuffix(strings.TrimPrefix(e.URI(), "mongodb://"), "/")
	sock, err := url.QueryUnescape(host)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(sock, dir) || !strings.HasSuffix(sock, "/"+embedded.SocketFile) {
		t.Fatalf("socket %q: want one outside the long data directory", sock)
	}
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	ping(t, enginetest.Connect(t, e.URI()))

	// Another Open finds the server through the URI file.
	other, err := embedded.Open(context.Background(), embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if other.Owner() || other.URI() != e.URI() {
		t.Errorf("second Open: owner %v, URI %q; want a client of %q", other.Owner(), other.URI(), e.URI())
	}

	closeEngine(t, e)
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("private socket directory after Close: %v; want it removed", err)
	}
}

func TestSocketPathTooLongIsRefused(t *testing.T) {
	// Neither the data directory nor TMPDIR can hold a socket: the engine
	// refuses to start rather than listen on TCP without authentication.
	long := strings.Repeat("long-directory-name-", 6)
	tmp := filepath.Join(t.TempDir(), long)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	dir := filepath.Join(tmp, "data")

	e, err := embedded.Open(t.Context(), embedded.Config{Dir: dir})
	if err == nil {
		_ = e.Close(context.Background())
		t.Fatalf("Open succeeded with URI %q; want an error", e.URI())
	}
	for _, want := range []string{"too long", "--data", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "aspengo-db-") {
			t.Errorf("temporary socket directory %s left behind", en.Name())
		}
	}
	// The failed Open released the directory: another fails the same way,
	// not on the lock.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := embedded.Open(ctx, embedded.Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("second Open: %v; want the same refusal", err)
	}
}

func TestDataDirGitignore(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "data")
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{missing, empty} {
		enginetest.Engine(t, dir)
		b, err := os.ReadFile(filepath.Join(dir, embedded.GitignoreFile))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if diff := cmp.Diff([]string{"*"}, lines); diff != "" {
			t.Errorf("%s: %s patterns (-want +got):\n%s", dir, embedded.GitignoreFile, diff)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", dir, fi.Mode().Perm(), err)
		}
	}

	// A directory that holds something already is left as it is, with a
	// warning when other users may enter it.
	existing := filepath.Join(base, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(existing, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	e, err := embedded.Open(t.Context(), embedded.Config{Dir: existing, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if _, err := os.Stat(filepath.Join(existing, embedded.GitignoreFile)); err == nil {
		t.Errorf("%s written into a directory that held files already", embedded.GitignoreFile)
	}
	if !strings.Contains(logs.String(), "chmod 700") {
		t.Errorf("no warning about a data directory of mode 0755; log:\n%s", logs.String())
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want string // in the error message
	}{
		{"empty", "", "Dir is empty"},
		{"parent is a file", filepath.Join(file, "data"), "not a directory"},
		{"dir is a file", file, "not a directory"},
		{"percent in path", filepath.Join(base, "100%"), "not supported"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(base, "readonly")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, dir, want string }{"not writable", ro, "permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := embedded.Open(context.Background(), embedded.Config{Dir: tt.dir})
			if err == nil {
				closeEngine(t, e)
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestPathWithSpaceAndPlus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data+more")
	e := enginetest.Engine(t, dir)
	c := enginetest.Connect(t, e.URI())
	if _, err := c.Database("db").Collection("c").InsertOne(context.Background(), bson.M{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "db.sqlite")); err != nil {
		t.Errorf("database file not in %q: %v", dir, err)
	}
}

func TestConcurrentOpens(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	engines := make([]*embedded.Engine, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			engines[i], errs[i] = embedded.Open(context.Background(), embedded.Config{Dir: dir})
		})
	}
	wg.Wait()
	owners := 0
	for i, e := range engines {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if e.Owner() {
			owners++
		}
		t.Cleanup(func() { closeEngine(t, e) })
	}
	if owners != 1 {
		t.Fatalf("%d owners, want 1", owners)
	}
	for _, e := range engines {
		if e.URI() != engines[0].URI() {
			t.Errorf("URIs differ: %q, %q", e.URI(), engines[0].URI())
		}
	}
}

// recorder is a slog.Handler that keeps records.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) levels() map[slog.Level]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[slog.Level]int{}
	for _, rec := range r.records {
		m[rec.Level]++
	}
	return m
}

func TestLogging(t *testing.T) {
	run := func(level slog.Leveler) map[slog.Level]int {
		rec := &recorder{}
		e, err := embedded.Open(context.Background(), embedded.Config{Dir: t.TempDir(), Logger: slog.New(rec), LogLevel: level})
		if err != nil {
			t.Fatal(err)
		}
		c, err := mongo.Connect(enginetest.ClientOptions(e.URI()))
		if err != nil {
			t.Fatal(err)
		}
		ping(t, c)
		disconnect(t, c)
		closeEngine(t, e)
		return rec.levels()
	}

	quiet := run(nil)
	for level, n := range quiet {
		if level < slog.LevelWarn {
			t.Errorf("default level: %d records at %v reached the logger", n, level)
		}
	}
	// The same session at debug level does log (FerretDB logs every
	// connection at info), so the quiet run above proves the filter.
	if verbose := run(slog.LevelDebug); verbose[slog.LevelInfo] == 0 {
		t.Errorf("LogLevel debug: no info records reached the logger: %v", verbose)
	}
}
