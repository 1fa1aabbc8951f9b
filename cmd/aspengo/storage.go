package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/embedded"
)

// storageFlags choose the database: a MongoDB server, or the embedded
// engine on a data directory.
type storageFlags struct {
	mongodbURI string
	uriFile    string // --mongodb-uri-file
	data       string
	mustOwn    bool // serve: the embedded engine must be this process's own
}

func (f *storageFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mongodbURI, "mongodb-uri", "", "the MongoDB server to use (env MONGODB_URI); empty runs the embedded engine")
	fs.StringVar(&f.uriFile, "mongodb-uri-file", "", "a file (mode 0600) holding the MongoDB URI, so that its credentials are not in the command line or the environment")
	fs.StringVar(&f.data, "data", "", "the embedded engine's data directory (default <root>/.aspen/data)")
}

// storageEnv maps the storage flags to the environment variables that
// mirror them besides ASPENGO_*.
var storageEnv = map[string]string{"mongodb-uri": "MONGODB_URI"}

// dataDir returns the --data value or its default under root.
func (f *storageFlags) dataDir(root string) string {
	if f.data != "" {
		return f.data
	}
	return filepath.Join(root, ".aspen", "data")
}

// uri returns the MongoDB URI of --mongodb-uri or --mongodb-uri-file
// (their environment variables included), or "" for the embedded engine.
// The file must not be readable by the group or others: it holds the
// database's credentials.
func (f *storageFlags) uri() (string, error) {
	if f.uriFile == "" {
		return f.mongodbURI, nil
	}
	if f.mongodbURI != "" {
		return "", errors.New("--mongodb-uri-file and --mongodb-uri (or MONGODB_URI) are both given: give one")
	}
	fi, err := os.Stat(f.uriFile)
	if err != nil {
		return "", fmt.Errorf("--mongodb-uri-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--mongodb-uri-file: %s is readable by others (mode %v), and it holds the database's credentials: chmod 600 %s", f.uriFile, fi.Mode().Perm(), f.uriFile)
	}
	b, err := os.ReadFile(f.uriFile)
	if err != nil {
		return "", fmt.Errorf("--mongodb-uri-file: %w", err)
	}
	uri := strings.TrimSpace(string(b))
	if uri == "" {
		return "", fmt.Errorf("--mongodb-uri-file: %s is empty", f.uriFile)
	}
	return uri, nil
}

// storage is the database a command works on.
type storage struct {
	engine *embedded.Engine // nil with --mongodb-uri
	conn   *database.Connector
}

// openStorage connects to the MongoDB server of --mongodb-uri, or opens
// the embedded engine on the data directory: as its owner, or as a client
// of the aspengo process that owns it.
func openStorage(ctx context.Context, f storageFlags, root string, log *slog.Logger) (*storage, error) {
	s := &storage{}
	uri, err := f.uri()
	if err != nil {
		return nil, err
	}
	if uri == "" {
		eng, err := embedded.Open(ctx, embedded.Config{Dir: f.dataDir(root), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("embedded database: %w", err)
		}
		s.engine = eng
		uri = eng.URI()
		if f.mustOwn && !eng.Owner() {
			eng.Close(context.Background())
			return nil, fmt.Errorf("embedded database: %s is in use by another aspengo serve; one process owns a data directory (several processes share a MongoDB server: --mongodb-uri)", eng.Dir())
		}
	}
	conn, err := database.New(ctx, uri)
	if err != nil {
		s.Close(context.Background())
		return nil, err
	}
	s.conn = conn
	if s.engine == nil {
		if err := waitForServer(ctx, conn, log); err != nil {
			s.Close(context.Background())
			return nil, err
		}
	}
	return s, nil
}

// startupWait is how long a command waits for a MongoDB server to answer
// at startup, before its startup hooks use it: each operation gives up
// after the driver's short server selection timeout, which a first
// connection (TLS, authentication) to a remote server may exceed.
const startupWait = 15 * time.Second

// waitForServer pings conn until it answers, for at most startupWait.
func waitForServer(ctx context.Context, conn *database.Connector, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, startupWait)
	defer cancel()
	for logged := false; ; logged = true {
		err := conn.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("database: no answer within %v: %w", startupWait, err)
		}
		if !logged {
			log.Warn("waiting for the database", "err", err.Error())
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describe says where the data is, for the log.
func (s *storage) describe() []any {
	if s.engine == nil {
		return []any{"database", "mongodb", "name", s.conn.DefaultDatabase()}
	}
	return []any{"database", "embedded", "data", s.engine.Dir(), "owner", s.engine.Owner()}
}

// Close disconnects and stops the embedded engine if this process owns it.
func (s *storage) Close(ctx context.Context) error {
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close(ctx))
	}
	if s.engine != nil {
		errs = append(errs, s.engine.Close(ctx))
	}
	return errors.Join(errs...)
}
