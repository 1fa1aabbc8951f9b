package aspengo

// Watching the www root, so that serving an unchanged file costs no stat.
//
// The watcher counts changes under the root: every file-system event in a
// watched directory moves the count. The simplate loader and the dispatch
// cache record the count at which they last checked the files; while it
// has not moved they trust what they have, and once it moves they check
// the files again (a stat each, as without a watcher: a count that moves
// for an unrelated file costs one check, never a recompilation).
//
// What is watched: the root and every directory below it whose name does
// not start with "." (dispatch never enters those), plus .aspen itself but
// none of its subdirectories (the embedded engine's data directory lives
// there and changes on every session write). A directory created later is
// watched as soon as its event is read, and the count moves again once its
// watch is in place, so that nothing checked while it was unwatched is
// trusted afterwards.
//
// The watcher gives up, and every request checks the files as before, when
// it cannot be started (no inotify, or its limits reached), when the tree
// holds a symbolic link (a change behind a link raises no event in the
// link's directory), or when the kernel dropped events.
//
// The window between a write and its event: the kernel queues the event
// during the write itself, but a goroutine that reads it runs a moment
// later. So on Linux each request first reads, without waiting, whatever
// the kernel has queued (one read system call, instead of a stat per
// file): a write that completed before the request started is always
// seen by it. Elsewhere (fsnotify's backends) a request that starts in
// that moment may still get what was checked before the write, and the
// next one sees the change.

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// watchBackend is the part of the watcher that talks to the kernel.
type watchBackend interface {
	// add watches the directory dir (not its subdirectories).
	add(dir string) error
	// read returns the events that have arrived, without waiting.
	read() ([]watchEvent, error)
	// wait blocks until events have arrived, or the backend is closed
	// (errWatchClosed).
	wait() error
	// exact reports whether read sees every change completed before
	// it was called, so that requests may call it to close the window.
	exact() bool
	close() error
}

var errWatchClosed = errors.New("watcher closed")

// watchEvent is a change to the file name; created is true when name
// appeared (created, or moved in).
type watchEvent struct {
	name    string
	created bool
}

// changeWatcher counts the changes made under a www root.
type changeWatcher struct {
	root   string
	aspen  string // root/.aspen
	log    *slog.Logger
	be     watchBackend
	count  atomic.Uint64
	ok     atomic.Bool // the count can be trusted
	exact  bool
	notify func(name string) // called with the absolute name of every changed file
	done   chan struct{}

	mu sync.Mutex // serialises reading events, so that a read and its count move are one step
}

// watchRoot starts watching root. It returns nil when watching is not
// possible; callers then check files on every request. notify, when not
// nil, is called with the name of every changed file, on the watcher's
// goroutine or on a request's.
func watchRoot(root string, log *slog.Logger, notify func(string)) *changeWatcher {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	be, err := newWatchBackend()
	if err != nil {
		log.Debug("not watching the www root: files are checked on every request", "err", err.Error())
		return nil
	}
	return startWatcher(root, log, notify, be)
}

// startWatcher watches root with be.
func startWatcher(root string, log *slog.Logger, notify func(string), be watchBackend) *changeWatcher {
	cw := &changeWatcher{
		root: root, aspen: filepath.Join(root, ".aspen"), log: log, be: be,
		exact: be.exact(), notify: notify, done: make(chan struct{}),
	}
	if err := cw.addTree(root); err != nil {
		be.close()
		if r, ok := be.(interface{ release() }); ok {
			r.release()
		}
		log.Debug("not watching the www root: files are checked on every request", "err", err.Error())
		return nil
	}
	cw.count.Add(1)
	cw.ok.Store(true)
	go cw.run()
	return cw
}

// newFsnotifyWatcher watches root with fsnotify, as on systems without
// the exact backend (tests use it on Linux too).
func newFsnotifyWatcher(root string, log *slog.Logger, notify func(string)) *changeWatcher {
	fsw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil
	}
	return startWatcher(root, log, notify, &fsnotifyBackend{w: fsw})
}

// errSymlink stops watching: a change behind a link raises no event.
var errSymlink = errors.New("the www root holds a symbolic link")

// addTree watches dir and the directories below it that dispatch can
// enter, and .aspen itself.
func (cw *changeWatcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked; its event follows
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return errSymlink
		}
		if !d.IsDir() {
			return nil
		}
		if p != cw.root && strings.HasPrefix(d.Name(), ".") {
			if p != cw.aspen {
				return fs.SkipDir
			}
			if err := cw.be.add(p); err != nil {
				return err
			}
			return cw.checkAspen()
		}
		return cw.be.add(p)
	})
}

// checkAspen refuses symbolic links among the files of .aspen, and skips
// its subdirectories.
func (cw *changeWatcher) checkAspen() error {
	ents, err := os.ReadDir(cw.aspen)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			return errSymlink
		}
	}
	return fs.SkipDir
}

// Changes is the simplate loader's Options.Changes: the count of changes
// seen so far, and whether it can be trusted.
func (cw *changeWatcher) Changes() (uint64, bool) {
	if cw == nil {
		return 0, false
	}
	return cw.count.Load(), cw.ok.Load()
}

// Sync reads, with an exact backend, the events already queued, so that
// Changes counts every change completed before Sync was called. The
// website calls it once as each request starts.
func (cw *changeWatcher) Sync() {
	if cw != nil && cw.exact && cw.ok.Load() {
		cw.readEvents()
	}
}

// run reads events as they come until the watcher is closed, so that
// notify hears of a change at once even when no request comes.
func (cw *changeWatcher) run() {
	defer close(cw.done)
	for {
		if err := cw.be.wait(); err != nil {
			if !errors.Is(err, errWatchClosed) {
				cw.giveUp(err)
			}
			return
		}
		cw.readEvents()
	}
}

// readEvents reads the queued events and moves the count for each.
func (cw *changeWatcher) readEvents() {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	evs, err := cw.be.read()
	for _, ev := range evs {
		cw.count.Add(1)
		if ev.created {
			cw.created(ev.name)
		}
		if cw.notify != nil {
			cw.notify(ev.name)
		}
	}
	if err != nil && !errors.Is(err, errWatchClosed) {
		cw.giveUp(err)
	}
}

// created watches a new directory.
func (cw *changeWatcher) created(name string) {
	fi, err := os.Lstat(name)
	if err != nil {
		return // gone again
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		cw.giveUp(errSymlink)
	case fi.IsDir() && filepath.Dir(name) != cw.aspen:
		if err := cw.addTree(name); err != nil {
			cw.giveUp(err)
		}
		// What was checked before the new directory was watched is not
		// to be trusted.
		cw.count.Add(1)
	}
}

// addDir watches one more directory, outside the tree or in it, such as
// that of a hooks.conf given with --hooks.
func (cw *changeWatcher) addDir(dir string) {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	if err := cw.be.add(dir); err != nil {
		cw.log.Debug("not watching a configuration directory", "dir", dir, "err", err.Error())
	}
}

// giveUp stops trusting the count: from now on every request checks the
// files.
func (cw *changeWatcher) giveUp(err error) {
	if cw.ok.Swap(false) {
		cw.log.Warn("stopped watching the www root: files are checked on every request from now on", "err", err.Error())
	}
}

// Close stops the watcher.
func (cw *changeWatcher) Close() error {
	if cw == nil {
		return nil
	}
	cw.ok.Store(false)
	err := cw.be.close()
	<-cw.done
	if r, ok := cw.be.(interface{ release() }); ok {
		r.release() // nobody waits on it any more
	}
	return err
}

// fsnotifyBackend is the portable backend: fsnotify's goroutine reads the
// kernel's events, so read sees an event only once that goroutine has.
type fsnotifyBackend struct {
	w       *fsnotify.Watcher
	pending []fsnotify.Event // received by wait, not yet read
	pmu     sync.Mutex
	once    sync.Once
}

func (b *fsnotifyBackend) add(dir string) error { return b.w.Add(dir) }
func (b *fsnotifyBackend) exact() bool          { return false }

func (b *fsnotifyBackend) wait() error {
	select {
	case ev, open := <-b.w.Events:
		if !open {
			return errWatchClosed
		}
		b.pmu.Lock()
		b.pending = append(b.pending, ev)
		b.pmu.Unlock()
		return nil
	case err, open := <-b.w.Errors:
		if !open {
			return errWatchClosed
		}
		return err
	}
}

func (b *fsnotifyBackend) read() ([]watchEvent, error) {
	b.pmu.Lock()
	pending := b.pending
	b.pending = nil
	b.pmu.Unlock()
	var evs []watchEvent
	for _, ev := range pending {
		evs = append(evs, watchEvent{ev.Name, ev.Has(fsnotify.Create)})
	}
	for {
		select {
		case ev, open := <-b.w.Events:
			if !open {
				return evs, errWatchClosed
			}
			evs = append(evs, watchEvent{ev.Name, ev.Has(fsnotify.Create)})
		default:
			return evs, nil
		}
	}
}

func (b *fsnotifyBackend) close() error {
	var err error
	b.once.Do(func() { err = b.w.Close() })
	return err
}
