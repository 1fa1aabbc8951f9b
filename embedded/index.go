package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB uses too ("sqlite")
)

// FerretDB's SQLite layout: one <database>.sqlite file per database, a
// table per collection whose one column (or two, for capped collections)
// holds the document as JSON, and a metadata table mapping collection
// names to table names. FerretDB looks a document up by _id with the
// expression idExpr (in SELECT, UPDATE and DELETE), but the unique index
// it makes for _id is on another spelling of the same path, which SQLite
// does not match: without the index below, every lookup by _id scans the
// table.
const (
	// dbFileExt ends the name of each database's file.
	dbFileExt = ".sqlite"
	// metadataTable maps collection names (name) to tables (table_name).
	metadataTable = "_ferretdb_collections"
	// idExpr is the expression FerretDB compares a pushed-down _id with,
	// exactly as it writes it: SQLite uses an expression index only for
	// an identical expression.
	idExpr = `_ferretdb_sjson->'$._id'`
	// idIndexPrefix starts the name of the index the engine adds to each
	// collection table; the table name follows. FerretDB names its own
	// indexes <table>_<index name>, and knows nothing of this one: it is
	// not in its metadata, so listIndexes does not show it and dropIndexes
	// does not touch it; DROP TABLE (drop, dropDatabase) removes it with
	// the table, and renameCollection keeps the table and so the index.
	idIndexPrefix = "aspengo_id_"
	// busyTimeoutMS is how long the engine's own SQLite connection waits
	// for FerretDB's locks, FerretDB's own default.
	busyTimeoutMS = 10000
)

// indexer adds the _id expression index to every collection table, with a
// SQLite connection of its own that it opens only while it works (an open
// connection would keep a dropped database's WAL file alive).
type indexer struct {
	dir    string
	logger *slog.Logger

	// mu is held while a connection is open, and by the proxy across the
	// commands that drop or rename collections, so that a collection
	// dropped under the indexer is never marked as indexed and a database
	// file is never removed while the indexer has it open.
	mu sync.Mutex

	doneMu sync.RWMutex
	done   map[string]map[string]bool // database -> collection -> indexed
}

func newIndexer(dir string, logger *slog.Logger) *indexer {
	return &indexer{dir: dir, logger: logger, done: make(map[string]map[string]bool)}
}

// indexed reports whether db.coll is known to have its index.
func (x *indexer) indexed(db, coll string) bool {
	x.doneMu.RLock()
	defer x.doneMu.RUnlock()
	return x.done[db][coll]
}

// forget drops what is known of the collections of db; the caller holds mu.
func (x *indexer) forget(db string) {
	x.doneMu.Lock()
	delete(x.done, db)
	x.doneMu.Unlock()
}

// forgetAll drops what is known of every collection; the caller holds mu.
func (x *indexer) forgetAll() {
	x.doneMu.Lock()
	clear(x.done)
	x.doneMu.Unlock()
}

// ensure indexes db.coll, and every other collection of db not yet
// indexed, unless db.coll is known to be indexed. Failures are logged: a
// missing index costs speed, not correctness.
func (x *indexer) ensure(ctx context.Context, db, coll string) {
	if x.indexed(db, coll) {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.indexed(db, coll) {
		return
	}
	if err := x.ensureDB(ctx, db); err != nil {
		x.logger.Warn("embedded: index _id", slog.String("db", db), slog.Any("error", err))
	}
}

// ensureAll indexes the collections of every database in the directory.
// It runs before FerretDB starts, so nothing else writes.
func (x *indexer) ensureAll(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	entries, err := os.ReadDir(x.dir)
	if err != nil {
		return fmt.Errorf("embedded: index _id: %w", err)
	}
	for _, e := range entries {
		db, ok := strings.CutSuffix(e.Name(), dbFileExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if err := x.ensureDB(ctx, db); err != nil {
			return fmt.Errorf("embedded: index _id of database %s: %w", db, err)
		}
	}
	return nil
}

// ensureDB creates the missing _id indexes of db's collections and marks
// them indexed; the caller holds mu. A database whose file does not exist
// is left alone (never created).
func (x *indexer) ensureDB(ctx context.Context, db string) error {
	conn, err := x.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()

	var hasMeta bool
	err = conn.QueryRowContext(ctx,
		`SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?`, metadataTable).Scan(&hasMeta)
	if err != nil {
		if isCantOpen(err) { // dropped, or never created
			return nil
		}
		return fmt.Errorf("read schema: %w", err)
	}
	if !hasMeta {
		return nil
	}
	tables, err := collectionTables(ctx, conn)
	if err != nil {
		return err
	}
	var indexed []string
	for coll, table := range tables {
		if _, err := conn.ExecContext(ctx, createIDIndex(table)); err != nil {
			// Dropped since the metadata was read: nothing to index.
			x.logger.Debug("embedded: index _id", slog.String("db", db), slog.String("collection", coll), slog.Any("error", err))
			continue
		}
		indexed = append(indexed, coll)
	}
	x.doneMu.Lock()
	defer x.doneMu.Unlock()
	m := x.done[db]
	if m == nil {
		m = make(map[string]bool)
		x.done[db] = m
	}
	for _, coll := range indexed {
		m[coll] = true
	}
	return nil
}

// open opens db's file read-write (never creating it) with a busy timeout,
// as one connection.
func (x *indexer) open(db string) (*sql.DB, error) {
	conn, err := sql.Open("sqlite", sqliteDSN(filepath.Join(x.dir, db+dbFileExt), "rw"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", db+dbFileExt, err)
	}
	conn.SetMaxOpenConns(1)
	return conn, nil
}

// sqliteDSN is the modernc.org/sqlite data source name of the file at
// path, opened in mode ("ro" or "rw"), with FerretDB's busy timeout.
func sqliteDSN(path, mode string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	u.RawQuery = q.Encode()
	return u.String()
}

// collectionTables reads FerretDB's metadata: collection name -> table.
func collectionTables(ctx context.Context, conn *sql.DB) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name, table_name FROM `+quoteIdent(metadataTable))
	if err != nil {
		return nil, fmt.Errorf("read collections: %w", err)
	}
	defer rows.Close()
	tables := make(map[string]string)
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			return nil, fmt.Errorf("read collections: %w", err)
		}
		tables[name] = table
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collections: %w", err)
	}
	return tables, nil
}

// idIndexName is the name of the engine's _id index on table.
func idIndexName(table string) string { return idIndexPrefix + table }

// createIDIndex is the statement that adds the _id index to table.
func createIDIndex(table string) string {
	return `CREATE INDEX IF NOT EXISTS ` + quoteIdent(idIndexName(table)) + ` ON ` + quoteIdent(table) + ` (` + idExpr + `)`
}

// quoteIdent quotes a SQLite identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// isCantOpen reports whether err is SQLite's "unable to open database
// file" (a missing file in mode=rw).
func isCantOpen(err error) bool {
	var coder interface{ Code() int }
	if errors.As(err, &coder) {
		return coder.Code()&0xff == 14 // SQLITE_CANTOPEN
	}
	return false
}
