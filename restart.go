package aspengo

// Configuration that needs a restart.
//
// Pages, templates and modules are reloaded at the next request, and so
// are the Starlark request hooks (the function is looked up again when its
// module changed). Two things are read only at startup: hooks.conf (which
// hooks run, in which phase) and what the startup hooks did (website
// attributes, a database connection). Running startup hooks again in a
// live server is not safe in general (they open connections and set
// read-only attributes that requests in flight are reading), so aspengo
// does not: when the watcher sees hooks.conf, or the module of a startup
// or shutdown hook, change, it logs at once that a restart is needed to
// apply it. Without a watcher (see watch.go) nothing is logged.

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// restartQuiet is how long a file must stay unchanged before it is
// compared: a save is several events (truncate, write, close), and only
// the content it leaves counts.
const restartQuiet = 100 * time.Millisecond

// restartNotes remembers the startup configuration, to tell when it
// changed.
type restartNotes struct {
	mu    sync.Mutex
	files map[string]*configFile // by absolute name
}

// configFile is one file read at startup.
type configFile struct {
	what     string // what it is, for the message
	started  []byte // the content the running site uses (nil: absent)
	reported []byte // the content last reported
	timer    *time.Timer
}

// remember records the content of a file read at startup.
func (n *restartNotes) remember(name, what string) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return
	}
	// As the watcher names it: the directory with its links resolved.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	b, _ := os.ReadFile(abs) // a missing file that appears is a change too
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.files == nil {
		n.files = map[string]*configFile{}
	}
	n.files[abs] = &configFile{what: what, started: b, reported: b}
}

// dirs returns the directories of the remembered files.
func (n *restartNotes) dirs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var dirs []string
	for name := range n.files {
		dirs = append(dirs, filepath.Dir(name))
	}
	return dirs
}

// stop cancels the pending comparisons.
func (n *restartNotes) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, f := range n.files {
		if f.timer != nil {
			f.timer.Stop()
		}
	}
	n.files = nil
}

// configChanged is the watcher's notify function: once a remembered file
// has been quiet for restartQuiet, it compares its content and logs a
// change that the running site does not apply.
func (w *Website) configChanged(name string) {
	n := &w.restart
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.files[name]
	if f == nil {
		return
	}
	if f.timer != nil {
		f.timer.Reset(restartQuiet)
		return
	}
	f.timer = time.AfterFunc(restartQuiet, func() { w.compareConfig(name, f) })
}

func (w *Website) compareConfig(name string, f *configFile) {
	b, _ := os.ReadFile(name)
	n := &w.restart
	n.mu.Lock()
	if n.files[name] != f || bytes.Equal(b, f.reported) {
		n.mu.Unlock()
		return // stopped, or no new content (a touch, or saved unchanged)
	}
	f.reported = b
	back := bytes.Equal(b, f.started)
	n.mu.Unlock()
	if back {
		w.log.Info(f.what+" is back to the version the running server uses", "file", name)
		return
	}
	w.log.Warn("restart to apply: "+f.what+" changed; the running server goes on with the version it started with", "file", name)
}

// rememberConfig records hooks.conf and the modules of the startup and
// shutdown hooks, and makes sure the watcher sees their directories.
func (w *Website) rememberConfig(hooksFile string) {
	if w.watch == nil {
		return
	}
	w.restart.remember(hooksFile, "hooks.conf (the list of hooks)")
	for _, p := range []Phase{Startup, Shutdown} {
		for _, e := range w.hooks[p] {
			if e.Builtin == nil {
				w.restart.remember(filepath.Join(w.root, ".aspen", e.Module+".star"), "the module of the "+p.String()+" hook "+e.Name())
			}
		}
	}
	for _, dir := range w.restart.dirs() {
		w.watch.addDir(dir)
	}
}
