package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aspengo/aspengo/embedded"
)

// dataWatchInterval is how often serve checks that its data directory is
// still the one it opened.
const dataWatchInterval = 250 * time.Millisecond

// dataDirError reports that the embedded engine's data directory, or its
// lock file, was removed or replaced while the server ran.
type dataDirError struct {
	dir    string
	reason string // "removed", "replaced by another directory" ...
}

func (e *dataDirError) Error() string {
	return fmt.Sprintf("data directory %s: %s while serving; stopped so that no write is acknowledged and then lost (restart aspengo serve)", e.dir, e.reason)
}

// watchDataDir returns ctx, or, when this process owns an embedded
// engine, a context derived from ctx that ends (with a *dataDirError as
// its cause, see dataDirLost) once the engine's data directory or its
// lock file is removed or replaced. serve then stops as on SIGTERM and
// exits non-zero.
//
// Why: SQLite keeps writing to files that are open but no longer in the
// directory, so every write would be acknowledged and lost at restart;
// and with the lock file gone, a second server could take the directory.
// The check runs every dataWatchInterval, so a second server could start
// within that time after the removal, but not while this one keeps
// serving.
func watchDataDir(ctx context.Context, st *storage, log *slog.Logger) context.Context {
	if st.engine == nil || !st.engine.Owner() {
		return ctx
	}
	dir := st.engine.Dir()
	lock := filepath.Join(dir, embedded.LockFile)
	watched := []struct {
		name, what string
		fi         fs.FileInfo
	}{{name: dir, what: "the directory"}, {name: lock, what: "its lock file " + embedded.LockFile}}
	for i := range watched {
		fi, err := os.Stat(watched[i].name)
		if err != nil {
			log.Warn("cannot watch the data directory", "err", err.Error())
			return ctx
		}
		watched[i].fi = fi
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(dataWatchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				cancel(nil)
				return
			case <-t.C:
			}
			for _, w := range watched {
				fi, err := os.Stat(w.name)
				reason := ""
				switch {
				case errors.Is(err, fs.ErrNotExist):
					reason = w.what + " was removed"
				case err != nil:
					reason = w.what + " cannot be read: " + err.Error()
				case !os.SameFile(fi, w.fi):
					reason = w.what + " was replaced"
				}
				if reason != "" {
					err := &dataDirError{dir: dir, reason: reason}
					log.Error("stopping: the data directory is gone", "dir", dir, "reason", reason)
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx
}

// dataDirLost returns the *dataDirError that ended ctx, if any.
func dataDirLost(ctx context.Context) error {
	var e *dataDirError
	if errors.As(context.Cause(ctx), &e) {
		return e
	}
	return nil
}
