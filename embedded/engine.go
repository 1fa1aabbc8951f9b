package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Names of the files the engine keeps in its data directory, next to
// FerretDB's own <database>.sqlite files.
const (
	// LockFile is locked (flock) by the process that owns the directory
	// and holds that process's id, for error messages.
	LockFile = "mongodb.lock"
	// SocketFile is the unix socket the owner listens on, when the path
	// is short enough (see the package documentation).
	SocketFile = "mongodb.sock"
	// URIFile holds the mongodb:// URI of the owner's server, one line.
	// It exists while an owner runs.
	URIFile = "mongodb.uri"
	// GitignoreFile is written, ignoring everything, in a data directory
	// that Open creates, so that a site kept in git does not commit its
	// database.
	GitignoreFile = ".gitignore"
	// internalSocketFile is FerretDB's own socket, behind the proxy.
	internalSocketFile = "ferretdb.sock"
)

// DefaultOwnerWait is how long Open waits, when Config.OwnerWait is 0, for
// the server of another process that owns the data directory to answer.
const DefaultOwnerWait = 10 * time.Second

// Config configures Open.
type Config struct {
	// Dir is the data directory; required. It is created with mode 0700
	// if missing.
	Dir string
	// Logger receives the engine's log records, FerretDB's included; nil
	// discards them.
	Logger *slog.Logger
	// LogLevel is the lowest level of the records that reach Logger; nil
	// means slog.LevelWarn, which drops FerretDB's per-connection info
	// lines.
	LogLevel slog.Leveler
	// OwnerWait bounds how long Open waits for the server of another
	// process that holds the directory's lock (it may still be starting);
	// 0 means DefaultOwnerWait. The context's deadline also applies.
	OwnerWait time.Duration
}

// Engine is an open embedded engine: either the server itself, running in
// this process (Owner reports true), or a handle on the server of another
// process that owns the same data directory. Its methods are safe for
// concurrent use.
type Engine struct {
	dir   string
	uri   string
	owner bool

	stop func()        // starts the shutdown; nil for a client; idempotent
	done chan struct{} // closed once the engine stopped and the directory is released

	ver       *versions     // the owner's document versions; nil for a client
	clientSeq atomic.Uint64 // a client's versions, which change on every call
}

// newMu serializes ferretdb.New, which writes a package-level variable of
// FerretDB's (its version information) on every call.
var newMu sync.Mutex

// Open starts the engine on cfg.Dir, or connects to the one already serving
// that directory.
//
// The process that takes the directory's lock (an flock on LockFile) runs
// FerretDB with its SQLite backend on the directory and listens on a unix
// socket (see the package documentation). When another process (or
// another Engine in this process) holds the lock, Open waits for that
// owner's server to answer and returns an Engine in client mode, whose URI
// points at it and whose Close stops nothing. A socket or URI file left by
// an owner that died is removed by the next owner.
//
// ctx bounds the start-up only, not the life of the engine.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedded: Config.Dir is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory %q: %w", cfg.Dir, err)
	}
	// FerretDB passes the directory to SQLite inside a file: URI without
	// escaping it, so these characters would be misread.
	if strings.ContainsAny(dir, "?#%") {
		return nil, fmt.Errorf("embedded: data directory %s: the characters ?, # and %% are not supported in its path", dir)
	}
	if err := makeDataDir(dir); err != nil {
		return nil, err
	}

	logger := slog.New(slog.DiscardHandler)
	if cfg.Logger != nil {
		level := cfg.LogLevel
		if level == nil {
			level = slog.LevelWarn
		}
		logger = slog.New(minLevelHandler{min: level, h: cfg.Logger.Handler()})
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Its files (password hashes, sessions, keys) are made with the
		// process's umask, often world-readable: the directory's mode is
		// what keeps other users out.
		logger.Warn("embedded: the data directory is open to other users of this machine; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm().String())
	}
	wait := cfg.OwnerWait
	if wait <= 0 {
		wait = DefaultOwnerWait
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}

	lockPath := filepath.Join(dir, LockFile)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
		}
		lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("embedded: data directory %s is not usable: %w", dir, err)
		}
		owned, err := tryLock(lock)
		if err != nil {
			_ = lock.Close()
			return nil, fmt.Errorf("embedded: lock %s: %w", lockPath, err)
		}
		if owned {
			e, err := start(dir, lock, logger)
			if err != nil {
				_ = unlock(lock)
				_ = lock.Close()
				return nil, err
			}
			return e, nil
		}
		_ = lock.Close()

		// Another owner: use its server once it answers. It may be
		// starting, or stopping (then the lock frees and we take it).
		uri, err := ownerURI(dir)
		if err == nil {
			done := make(chan struct{})
			close(done)
			return &Engine{dir: dir, uri: uri, done: done}, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("embedded: data directory %s is locked by %s, whose server does not answer: %w",
				dir, ownerName(lockPath), err)
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// makeDataDir creates dir (mode 0700) if it is missing or empty, with a
// .gitignore that keeps a site's data out of its repository. A directory
// that holds anything already is left as it is: it may not be aspengo's
// alone (see warnOpenDataDir).
func makeDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return nil
	case err == nil: // empty: made for the data, as by mkdir
		err = os.Chmod(dir, 0o700)
	case errors.Is(err, fs.ErrNotExist):
		err = os.MkdirAll(dir, 0o700)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, GitignoreFile), []byte("# Written by aspengo: the embedded database's files.\n*\n"), 0o600)
	}
	if err != nil {
		return fmt.Errorf("embedded: create data directory: %w", err)
	}
	return nil
}

// start runs FerretDB on dir, whose lock the caller holds, behind the
// proxy.
func start(dir string, lock *os.File, logger *slog.Logger) (*Engine, error) {
	// The lock is ours, so whatever a previous owner left is stale.
	for _, name := range []string{SocketFile, URIFile, internalSocketFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("embedded: remove stale %s: %w", name, err)
		}
	}
	if err := writePID(lock); err != nil {
		return nil, fmt.Errorf("embedded: write %s: %w", lock.Name(), err)
	}

	sockDir, tmpDir, err := socketDir(dir)
	if err != nil {
		return nil, err
	}
	removeTmp := func() {
		if tmpDir != "" {
			_ = os.RemoveAll(tmpDir)
		}
	}

	// The clients' listener.
	sock := filepath.Join(sockDir, SocketFile)
	ln, err := net.Listen("unix", sock)
	if err == nil {
		err = os.Chmod(sock, 0o600)
	}
	uri := socketURI(sock)
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		removeTmp()
		return nil, fmt.Errorf("embedded: listen: %w", err)
	}

	// FerretDB's own listener, which only the proxy uses.
	lc := ferretdb.ListenerConfig{Unix: filepath.Join(sockDir, internalSocketFile)}
	// FerretDB leaks its backend (whose finalizer then panics) when its
	// listener fails: make sure it will not.
	if err := checkListen(lc); err != nil {
		_ = ln.Close()
		removeTmp()
		return nil, err
	}

	// Index the collections that exist before FerretDB opens them, so
	// that nothing writes meanwhile; the proxy indexes the new ones.
	elog := logger.With(slog.String("component", "embedded"))
	idx := newIndexer(dir, elog)
	if err := idx.ensureAll(context.Background()); err != nil {
		_ = ln.Close()
		removeTmp()
		return nil, err
	}

	flog := logger.With(slog.String("component", "ferretdb"))
	sqliteURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir) + "/"}).String()

	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  lc,
		Logger:    flog,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	newMu.Unlock()
	if err != nil {
		_ = ln.Close()
		removeTmp()
		return nil, fmt.Errorf("embedded: start FerretDB on %s: %w", dir, err)
	}
	_ = os.Chmod(lc.Unix, 0o600)
	network, addr := "unix", lc.Unix

	p := &proxy{
		ln:     ln,
		dial:   func() (net.Conn, error) { return net.Dial(network, addr) },
		logger: elog,
		idx:    idx,
		ver:    newVersions(maxTrackedDocs),
		conns:  make(map[net.Conn]struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	ferretDone := make(chan struct{})
	go func() {
		defer close(ferretDone)
		_ = f.Run(ctx) // returns once its listener, connections and backend are closed; always nil
	}()
	p.wg.Add(1)
	go p.serve()

	stop := make(chan struct{})
	e := &Engine{dir: dir, uri: uri, owner: true, stop: sync.OnceFunc(func() { close(stop) }), done: make(chan struct{}), ver: p.ver}
	go func() {
		defer close(e.done)
		<-stop
		// Once stopped, another process may own the directory and write.
		p.ver.close()
		// Clients first, so that FerretDB has no connection to wait for.
		p.close()
		cancel()
		<-ferretDone
		for _, name := range []string{URIFile, SocketFile, internalSocketFile} {
			_ = os.Remove(filepath.Join(dir, name))
		}
		removeTmp()
		_ = lock.Truncate(0)
		_ = unlock(lock)
		_ = lock.Close()
	}()

	if err := writeURIFile(dir, uri); err != nil {
		_ = e.Close(context.Background())
		return nil, err
	}
	logger.Debug("embedded MongoDB engine started", slog.String("dir", dir), slog.String("uri", uri))
	return e, nil
}

// socketDir chooses the directory of the sockets: dir itself when the
// socket paths fit in a socket address and the driver can parse them; else
// a new private directory under os.TempDir (also returned as tmpDir, to be
// removed). When neither fits, it fails: the engine never listens on TCP,
// which every local user could reach, since it has no authentication.
func socketDir(dir string) (sockDir, tmpDir string, err error) {
	if socketPathOK(filepath.Join(dir, internalSocketFile)) {
		return dir, "", nil
	}
	tmp, err := os.MkdirTemp("", "aspengo-db-")
	if err != nil {
		return "", "", fmt.Errorf("embedded: socket directory: %w", err)
	}
	if socketPathOK(filepath.Join(tmp, internalSocketFile)) {
		return tmp, tmp, nil
	}
	_ = os.Remove(tmp)
	return "", "", fmt.Errorf("embedded: the unix socket path %s is too long (at most %d bytes) or contains ':', and so is the one in the temporary directory %s; "+
		"choose a data directory with a shorter path (--data), e.g. %s, or a shorter TMPDIR",
		filepath.Join(dir, internalSocketFile), maxSocketPath(), os.TempDir(), shortDataDirExample())
}

// shortDataDirExample suggests a data directory whose socket path fits.
func shortDataDirExample() string {
	if home, err := os.UserHomeDir(); err == nil {
		if d := filepath.Join(home, ".aspengo-data"); socketPathOK(filepath.Join(d, internalSocketFile)) {
			return d
		}
	}
	return "/var/tmp/aspengo-data"
}

// checkListen checks that FerretDB will be able to listen as lc says.
func checkListen(lc ferretdb.ListenerConfig) error {
	l, err := net.Listen("unix", lc.Unix)
	if err != nil {
		return fmt.Errorf("embedded: listen: %w", err)
	}
	return l.Close() // also removes a unix socket file
}

// socketPathOK reports whether p fits in a unix socket address and survives
// the driver's URI parsing, which splits the host at ':'.
func socketPathOK(p string) bool {
	return len(p) <= maxSocketPath() && !strings.Contains(p, ":")
}

// socketURI is the driver URI of the unix socket p. The driver unescapes
// the host with url.QueryUnescape, hence QueryEscape (which also protects
// '+' and ',').
func socketURI(p string) string {
	return "mongodb://" + url.QueryEscape(p) + "/"
}

// writePID records this process's id in the lock file.
func writePID(lock *os.File) error {
	if err := lock.Truncate(0); err != nil {
		return err
	}
	_, err := lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// ownerName describes the holder of the lock file for error messages.
func ownerName(lockPath string) string {
	b, err := os.ReadFile(lockPath)
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		if pid == strconv.Itoa(os.Getpid()) {
			return "this process (pid " + pid + ")"
		}
		return "process " + pid
	}
	return "another process"
}

// writeURIFile writes dir/URIFile atomically, so a reader never sees half
// a URI.
func writeURIFile(dir, uri string) error {
	f, err := os.CreateTemp(dir, URIFile+".*")
	if err != nil {
		return fmt.Errorf("embedded: write %s: %w", URIFile, err)
	}
	_, err = f.WriteString(uri + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, URIFile))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("embedded: write %s: %w", URIFile, err)
	}
	return nil
}

// ownerURI reads the URI of the owner's server from dir/URIFile and checks
// that the server accepts connections.
func ownerURI(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, URIFile))
	if err != nil {
		return "", err
	}
	uri := strings.TrimSpace(string(b))
	host, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		return "", fmt.Errorf("%s: not a mongodb:// URI: %q", URIFile, uri)
	}
	host, _, _ = strings.Cut(host, "/")
	host, err = url.QueryUnescape(host)
	if err != nil {
		return "", fmt.Errorf("%s: %w", URIFile, err)
	}
	network := "tcp"
	if strings.HasSuffix(host, ".sock") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, host, time.Second)
	if err != nil {
		return "", err
	}
	_ = conn.Close()
	return uri, nil
}

// URI returns the mongodb:// URI of the server, for the official driver:
// mongodb://%2Fpath%2Fto%2Fmongodb.sock/, its unix socket.
func (e *Engine) URI() string { return e.uri }

// Dir returns the absolute path of the data directory.
func (e *Engine) Dir() string { return e.dir }

// Owner reports whether this Engine runs the server (true), or is a client
// of the server of another owner of the directory (false).
func (e *Engine) Owner() bool { return e.owner }

// Close stops the server, if this Engine owns it, and waits until FerretDB's
// goroutines have returned, its files are closed and the directory's lock
// is released. Client connections are closed at once: a request in flight
// fails with a network error, as when a MongoDB server goes away. Close
// returns early with the context's error if ctx ends first; the engine
// still stops, and a later Close waits again. Close is idempotent and does
// nothing for a client-mode Engine.
func (e *Engine) Close(ctx context.Context) error {
	if !e.owner {
		return nil
	}
	e.stop()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("embedded: stop engine on %s: %w", e.dir, context.Cause(ctx))
	}
}

// Version returns the version of the document {_id: id} of collection
// coll of database db, for caching it exactly: a value that changes
// whenever the document may have been changed or deleted, by any client
// of the engine (in this process or another, through its socket).
//
// The protocol: record v := Version(db, coll, id) BEFORE reading the
// document, then read it; the copy read stays valid while Version(db,
// coll, id) == v. A cached missing document is not covered: inserts do
// not change versions.
//
// How it works: the engine's relay sees every command. An update, delete
// or findAndModify whose filter is exactly {_id: <string>} moves on that
// document's version; any other write to the collection (another filter,
// a multi-document update, drop, renameCollection, dropDatabase, a
// message the relay cannot read) moves on the version of every document
// of the collection, the database or the engine. It does so before the
// command reaches FerretDB and again once its reply has arrived, so a
// read that overlaps a write never leaves a stale copy with a current
// version. The per-document counters are bounded: past 65,536 documents
// written they are forgotten, and every version moves on once.
//
// Not covered: unacknowledged writes (write concern w:0), whose effect
// may land after the relay has passed them on, and writes that do not go
// through the engine's socket. On a client-mode Engine (Owner false), and
// on an owner once closed, the writes are not seen by this process, so
// Version returns a new value on every call: nothing stays cached.
func (e *Engine) Version(db, coll, id string) uint64 {
	if e.ver == nil {
		return e.clientSeq.Add(1)
	}
	return e.ver.get(db, coll, id)
}
