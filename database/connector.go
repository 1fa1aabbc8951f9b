package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.starlark.net/starlark"
)

// DefaultTimeout bounds each database operation when no WithTimeout
// option is given.
const DefaultTimeout = 5 * time.Second

// Driver defaults for what the URI does not set. They are chosen so that
// a plain URI neither deadlocks a server under many concurrent sessions
// nor keeps requests waiting while the server is down:
const (
	// DefaultServerSelectionTimeout bounds the wait for a usable server
	// (serverSelectionTimeoutMS), so that while the database is
	// unreachable each request fails within about half a second instead
	// of the driver's 30 s. Raise it in the URI to ride out a replica set
	// election (typically several seconds) instead of answering 503s.
	DefaultServerSelectionTimeout = 500 * time.Millisecond

	// DefaultConnectTimeout bounds opening one connection
	// (connectTimeoutMS), TLS handshake included.
	DefaultConnectTimeout = 2 * time.Second

	// DefaultMaxPoolSize is the most connections one process opens to
	// one server (maxPoolSize; the driver's default is 100). Requests
	// beyond it wait for a free connection, within their operation
	// timeout. Several processes multiply it: keep processes times
	// maxPoolSize below what the server serves at once (with FerretDB,
	// below its PostgreSQL pool, pool_max_conns, which defaults to 50).
	DefaultMaxPoolSize = 20
)

// DefaultDatabaseName is the default database when neither
// WithDefaultDatabase nor the URI names one.
const DefaultDatabaseName = "aspengo"

// maxNameLen is the longest database name accepted (MongoDB allows fewer
// than 64 bytes).
const maxNameLen = 63

// A Connector holds the MongoDB client of the configured server and the
// clients that connect() opened for other URIs. Its methods are safe for
// concurrent use.
type Connector struct {
	uri       string
	client    *mongo.Client
	defaultDB string
	timeout   time.Duration
	limits    limits

	mu     sync.Mutex
	closed bool
	others map[string]*mongo.Client // by URI, opened by connect(uri)
}

// An Option configures New.
type Option func(*config)

type config struct {
	timeout   time.Duration
	limits    limits
	defaultDB string
}

// limits are the driver's timeouts where the URI sets none.
type limits struct {
	operation, selection, connect time.Duration
}

// WithTimeout sets the time limit of each database operation (default
// DefaultTimeout), unless the URI sets timeoutMS. It also bounds server
// selection and connecting (instead of DefaultServerSelectionTimeout and
// DefaultConnectTimeout), unless the URI sets serverSelectionTimeoutMS or
// connectTimeoutMS.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		c.timeout = d
		c.limits = limits{operation: d, selection: d, connect: d}
	}
}

// WithDefaultDatabase sets the name DefaultDatabase returns, overriding
// the database named in the URI.
func WithDefaultDatabase(name string) Option { return func(c *config) { c.defaultDB = name } }

// New returns a Connector for the server at uri (mongodb:// or
// mongodb+srv://). It contacts no server (the driver connects in the
// background and each operation waits for it, within its timeout), except
// that a mongodb+srv URI is resolved through DNS; call Ping to check that
// the server answers. The default database is, in this order, the one
// given with WithDefaultDatabase, the one in the URI's path, or
// DefaultDatabaseName.
func New(ctx context.Context, uri string, opts ...Option) (*Connector, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	cfg := config{timeout: DefaultTimeout, limits: defaultLimits}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("database: timeout %v is not positive", cfg.timeout)
	}
	uriDB, err := uriDatabase(uri)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	switch {
	case cfg.defaultDB != "":
		if err := validateName(cfg.defaultDB); err != nil {
			return nil, fmt.Errorf("database: default database: %w", err)
		}
	case uriDB != "":
		if err := validateName(uriDB); err != nil {
			return nil, fmt.Errorf("database: %s: %w", redact(uri), err)
		}
		cfg.defaultDB = uriDB
	default:
		cfg.defaultDB = DefaultDatabaseName
	}
	client, err := newClient(uri, cfg.limits)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return &Connector{uri: uri, client: client, defaultDB: cfg.defaultDB, timeout: cfg.timeout, limits: cfg.limits}, nil
}

// defaultLimits are the limits without WithTimeout.
var defaultLimits = limits{operation: DefaultTimeout, selection: DefaultServerSelectionTimeout, connect: DefaultConnectTimeout}

// newClient makes a driver client for uri with clientOptions.
func newClient(uri string, l limits) (*mongo.Client, error) {
	c, err := mongo.Connect(clientOptions(uri, l))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redact(uri), err)
	}
	return c, nil
}

// clientOptions returns the driver options for uri: the URI's own, and
// l and DefaultMaxPoolSize for what it does not set.
func clientOptions(uri string, l limits) *options.ClientOptions {
	o := options.Client().ApplyURI(uri)
	if o.ServerSelectionTimeout == nil {
		o.SetServerSelectionTimeout(l.selection)
	}
	if o.ConnectTimeout == nil {
		o.SetConnectTimeout(l.connect)
	}
	if o.Timeout == nil {
		// Bounds each operation whose context has no deadline, such as
		// the database calls of a login, which must not share one
		// deadline with bcrypt's CPU time.
		o.SetTimeout(l.operation)
	}
	if o.MaxPoolSize == nil {
		o.SetMaxPoolSize(DefaultMaxPoolSize)
	}
	if o.AppName == nil {
		o.SetAppName("aspengo")
	}
	return o
}

// uriDatabase returns the database named in the path of a MongoDB URI,
// "" when there is none.
func uriDatabase(uri string) (string, error) {
	if !isURI(uri) {
		return "", fmt.Errorf("%q is not a mongodb:// or mongodb+srv:// URI", redact(uri))
	}
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return "", fmt.Errorf("%s: %w", redact(uri), err)
	}
	return cs.Database, nil
}

// isURI reports whether s has a MongoDB URI scheme.
func isURI(s string) bool {
	return strings.HasPrefix(s, "mongodb://") || strings.HasPrefix(s, "mongodb+srv://")
}

// redact hides the user information (the password) of a URI, for error
// messages.
func redact(uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return uri
	}
	return uri[:i+3] + "REDACTED@" + rest[at+1:]
}

// validateName reports whether name is acceptable as a database name:
// 1 to 63 ASCII letters, digits, '_' and '-' (a subset of what MongoDB
// allows, which every MongoDB-compatible engine accepts).
func validateName(name string) error {
	if name == "" {
		return errors.New("empty database name")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("database name %.20q... is longer than %d bytes", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("database name %q may contain only letters, digits, '_' and '-'", name)
		}
	}
	return nil
}

// Client returns the driver client of the configured server.
func (c *Connector) Client() *mongo.Client { return c.client }

// DefaultDatabase returns the name of the default database (see New).
func (c *Connector) DefaultDatabase() string { return c.defaultDB }

// Timeout returns the time limit of each operation.
func (c *Connector) Timeout() time.Duration { return c.timeout }

// Handle returns a handle on the database name of the configured server,
// for Go code (the command sets website.db to Handle(DefaultDatabase())).
// name must satisfy validateName.
func (c *Connector) Handle(name string) (*Handle, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	return NewHandle(c.client.Database(name), c.timeout), nil
}

func (c *Connector) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("database: connector is closed")
	}
	return nil
}

// Connect returns a handle on a database named as Starlark's connect()
// names it: a bare name (see validateName) is that database on the
// configured server; a mongodb:// or mongodb+srv:// URI is the database
// in the URI's path on that server, whose client is opened on first use,
// kept for later calls with the same URI, and closed by Close.
func (c *Connector) Connect(nameOrURI string) (*Handle, error) {
	if !strings.Contains(nameOrURI, "://") {
		return c.Handle(nameOrURI)
	}
	name, err := uriDatabase(nameOrURI)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s names no database: add /<name> after the hosts", redact(nameOrURI))
	}
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", redact(nameOrURI), err)
	}
	client, err := c.clientFor(nameOrURI)
	if err != nil {
		return nil, err
	}
	return NewHandle(client.Database(name), c.timeout), nil
}

// clientFor returns the client for uri, opening it on first use.
func (c *Connector) clientFor(uri string) (*mongo.Client, error) {
	if uri == c.uri {
		return c.client, c.checkOpen()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("database: connector is closed")
	}
	if cl, ok := c.others[uri]; ok {
		return cl, nil
	}
	cl, err := newClient(uri, c.limits)
	if err != nil {
		return nil, err
	}
	if c.others == nil {
		c.others = map[string]*mongo.Client{}
	}
	c.others[uri] = cl
	return cl, nil
}

// Builtin returns the Starlark builtin connect(name_or_uri), which returns
// a database handle as Connect does.
func (c *Connector) Builtin() *starlark.Builtin {
	return starlark.NewBuiltin("connect", c.connectFn)
}

// Builtins returns the Starlark builtins of the package: connect (bound
// to c) and ObjectId.
func (c *Connector) Builtins() starlark.StringDict {
	return starlark.StringDict{"connect": c.Builtin(), "ObjectId": ObjectIDBuiltin()}
}

func (c *Connector) connectFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name_or_uri", &s); err != nil {
		return nil, err
	}
	h, err := c.Connect(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return h, nil
}

// Ping checks that the configured server answers, within the operation
// timeout; an unreachable server gives an *UnavailableError.
func (c *Connector) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return wrapError("ping", c.client.Ping(ctx, readpref.Primary()))
}

// Close disconnects every client of the Connector. Handles made from it
// fail afterwards (with an *UnavailableError), and so do Handle and
// Connect.
func (c *Connector) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	clients := []*mongo.Client{c.client}
	for _, cl := range c.others {
		clients = append(clients, cl)
	}
	c.others = nil
	c.mu.Unlock()

	var errs []error
	for _, cl := range clients {
		if err := cl.Disconnect(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("database: close: %w", err)
	}
	return nil
}
