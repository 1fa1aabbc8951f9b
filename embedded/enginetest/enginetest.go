// Package enginetest gives tests a MongoDB database: on the embedded
// engine, started once per test binary, or on the real MongoDB named by
// the MONGODB_URI environment variable, or, with
// ASPENGO_TEST_ENGINE=ferretdb-pg, on a FerretDB server on PostgreSQL
// started once per test binary (see internal/dbserver).
//
// A test package that uses DB should stop the shared engine and remove its
// temporary directory when its tests end, by calling Main from TestMain:
//
//	func TestMain(m *testing.M) { enginetest.Main(m) }
//
// Without it the tests still work, but the engine's temporary directory
// (under os.TempDir, named aspengo-enginetest-*) is left behind.
//
// [AssertPushedDown] guards a query against becoming a collection scan:
// call it, in a test, with the collection and filter a request path uses.
//
// The shared engine and client are package-level state by necessity: they
// live as long as the test binary.
package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/aspengo/aspengo/embedded"
	"github.com/aspengo/aspengo/internal/dbserver"
)

// EnvURI names the environment variable that, when set, points DB at a
// real MongoDB instead of the embedded engine.
const EnvURI = "MONGODB_URI"

// EnvEngine names the environment variable that chooses the engine of DB
// when EnvURI is not set: "embedded" (the default) or EngineServer.
const EnvEngine = "ASPENGO_TEST_ENGINE"

// EngineServer is the EnvEngine value that runs DB on a FerretDB server
// on PostgreSQL, a process of its own reached over TCP. Where PostgreSQL
// is not installed, DB skips the test (fails it under CI=true).
const EngineServer = "ferretdb-pg"

// Timeouts of the clients made by ClientOptions: a stopped server gives an
// error within a few seconds instead of a hang.
const (
	ServerSelectionTimeout = 3 * time.Second
	ConnectTimeout         = 3 * time.Second
	// OperationTimeout bounds every operation (the driver's client-side
	// timeout); it is generous because the engine is slow under -race.
	OperationTimeout = 30 * time.Second
)

var shared struct {
	once   sync.Once
	dir    string // temporary data directory of the shared engine; "" with MONGODB_URI
	engine *embedded.Engine
	server *dbserver.Server // with EngineServer
	client *mongo.Client
	err    error
}

// Main runs the tests of m, then disconnects the shared client, stops the
// shared engine, removes its directory, and exits with the tests' status.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "enginetest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// shutdown releases what setup made.
func shutdown() error {
	if shared.client == nil && shared.engine == nil && shared.server == nil && shared.dir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if shared.client != nil {
		if err := shared.client.Disconnect(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if shared.engine != nil {
		if err := shared.engine.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if shared.server != nil {
		if err := shared.server.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if shared.dir != "" {
		if err := os.RemoveAll(shared.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("shutdown: %v", errs)
	}
	return nil
}

// setup connects the shared client, starting the shared engine or server
// unless MONGODB_URI is set.
func setup() {
	// Long enough for a first build of the FerretDB server.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	uri := os.Getenv(EnvURI)
	switch engine := os.Getenv(EnvEngine); {
	case uri != "":
	case engine == EngineServer:
		s, err := dbserver.Start(ctx)
		if err != nil {
			shared.err = fmt.Errorf("enginetest: %w", err)
			return
		}
		shared.server = s
		uri = s.URI()
	case engine != "" && engine != "embedded":
		shared.err = fmt.Errorf("enginetest: %s=%q: want embedded or %s", EnvEngine, engine, EngineServer)
		return
	default:
		dir, err := os.MkdirTemp("", "aspengo-enginetest-")
		if err != nil {
			shared.err = fmt.Errorf("enginetest: %w", err)
			return
		}
		shared.dir = dir
		e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
		if err != nil {
			shared.err = fmt.Errorf("enginetest: %w", err)
			return
		}
		shared.engine = e
		uri = e.URI()
	}
	c, err := mongo.Connect(ClientOptions(uri))
	if err != nil {
		shared.err = fmt.Errorf("enginetest: connect %s: %w", uri, err)
		return
	}
	shared.client = c
	if err := c.Ping(ctx, readpref.Primary()); err != nil {
		shared.err = fmt.Errorf("enginetest: ping %s: %w", uri, err)
	}
}

// ClientOptions returns driver options for uri with the timeouts above.
func ClientOptions(uri string) *options.ClientOptions {
	return options.Client().
		ApplyURI(uri).
		SetServerSelectionTimeout(ServerSelectionTimeout).
		SetConnectTimeout(ConnectTimeout).
		SetTimeout(OperationTimeout)
}

// DB returns a new, empty database with a name unique to the test (and
// random, so that concurrent test binaries sharing one MongoDB do not
// collide). The database is dropped when the test ends. It is on the
// shared embedded engine, or on MONGODB_URI when that is set.
func DB(t testing.TB) *mongo.Database {
	t.Helper()
	shared.once.Do(setup)
	if shared.err != nil {
		dbserver.SkipOrFail(t, shared.err)
	}
	db := shared.client.Database(dbName(t.Name()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), OperationTimeout)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("enginetest: drop database %s: %v", db.Name(), err)
		}
	})
	return db
}

// UsingMongoDB reports whether DB uses a real MongoDB (MONGODB_URI is set)
// rather than the embedded engine, for tests of behaviour that differs.
func UsingMongoDB() bool { return os.Getenv(EnvURI) != "" }

// dbName makes a database name valid for MongoDB and FerretDB
// ([A-Za-z0-9_-], at most 63 bytes) from a test name.
func dbName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range testName {
		if b.Len() >= 42 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [5]byte
	_, _ = rand.Read(rnd[:]) // never fails
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// Engine opens an engine on dir for this test alone, with its logs
// discarded, and closes it when the test ends. Use it for restarts and for
// stopping the database in the middle of a test (Close is idempotent, so a
// test may close it early).
func Engine(t testing.TB, dir string) *embedded.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("enginetest: %v", err)
		}
	})
	return e
}

// Connect returns a client for uri made with ClientOptions, disconnected
// when the test ends. Cleanups run last-in first-out, so a client made
// after Engine is disconnected before the engine stops.
func Connect(t testing.TB, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(ClientOptions(uri))
	if err != nil {
		t.Fatalf("enginetest: connect %s: %v", uri, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx) // may fail when the test stopped the engine
	})
	return c
}
