package aspengo

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sync"
	"sync/atomic"
	"time"
)

// Static files are kept in memory while the watcher reports no change
// under the root (see watch.go), so that serving one costs no system call:
// up to maxStaticFile bytes a file, maxStaticTotal in all. Larger files,
// and every file when the watcher cannot be trusted, are read from disk
// on each request.
const (
	maxStaticFile  = 256 << 10
	maxStaticTotal = 64 << 20
)

// staticCache holds the static files read at one checkpoint or another.
type staticCache struct {
	m     sync.Map // file name → *staticEntry
	total atomic.Int64
}

// staticEntry is one file as read at checkpoint cp.
type staticEntry struct {
	cp      uint64
	data    []byte
	modTime time.Time
	etag    []string // the Etag header's value
}

// nosniff is the value of X-Content-Type-Options; header values are
// shared read-only, as net/http never changes them in place.
var nosniff = []string{"nosniff"}

// textPlain is the Content-Type of a static file whose extension has none.
var textPlain = []string{"text/plain; charset=utf-8"}

// serveStatic writes a static file with http.ServeContent, which answers
// Range, If-Modified-Since, If-None-Match and HEAD.
func (w *Website) serveStatic(rw http.ResponseWriter, req *Request) {
	name := req.Resource.Path
	cp := w.checkpoint()
	var e *staticEntry
	if cp != 0 {
		if v, ok := w.static.m.Load(name); ok && v.(*staticEntry).cp == cp {
			e = v.(*staticEntry)
		}
	}
	if e == nil {
		var f fs.File
		var ok bool
		e, f, ok = w.readStatic(name, cp)
		if !ok {
			http.Error(rw, "Not Found", http.StatusNotFound)
			return
		}
		if f != nil { // too large to keep: straight from the file
			defer f.Close()
			w.sendStatic(rw, req, e, f.(io.ReadSeeker))
			return
		}
	}
	w.sendStatic(rw, req, e, bytes.NewReader(e.data))
}

// sendStatic writes the file of e, whose content content reads.
func (w *Website) sendStatic(rw http.ResponseWriter, req *Request, e *staticEntry, content io.ReadSeeker) {
	h := rw.Header()
	// Never let a browser guess a type other than the extension's (an
	// uploaded file with an unknown extension sniffed as HTML).
	h["X-Content-Type-Options"] = nosniff
	// Nor let the server guess: http.ServeContent would sniff a file whose
	// extension has no type, and label HTML in it text/html. As Aspen did,
	// such a file is text/plain.
	if _, ok := h["Content-Type"]; !ok && mime.TypeByExtension(path.Ext(req.Resource.Path)) == "" {
		h["Content-Type"] = textPlain
	}
	if _, ok := h["Etag"]; !ok {
		h["Etag"] = e.etag
	}
	http.ServeContent(rw, req.Request, path.Base(req.Resource.Path), e.modTime, content)
}

// readStatic opens the file name. A file small enough to keep is read
// whole, and kept when cp is not 0; a larger one is returned open, with e
// describing it. ok is false when the file cannot be served.
func (w *Website) readStatic(name string, cp uint64) (e *staticEntry, f fs.File, ok bool) {
	f, err := w.fsys.Open(name)
	if err != nil {
		return nil, nil, false
	}
	fi, err := f.Stat()
	_, seeker := f.(io.ReadSeeker)
	if err != nil || !seeker || fi.IsDir() {
		f.Close()
		return nil, nil, false
	}
	e = &staticEntry{
		cp:      cp,
		modTime: fi.ModTime(),
		etag:    []string{fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())},
	}
	if fi.Size() > maxStaticFile {
		return e, f, true
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStaticFile+1))
	if err != nil {
		return nil, nil, false
	}
	e.data = data
	// A file that changed while it was read is served as read, not kept:
	// its event moves the checkpoint anyway.
	if cp != 0 && int64(len(data)) == fi.Size() {
		w.static.keep(name, e)
	}
	return e, nil, true
}

// keep stores e unless the cache is full.
func (c *staticCache) keep(name string, e *staticEntry) {
	old, loaded := c.m.Load(name)
	grow := int64(len(e.data))
	if loaded {
		grow -= int64(len(old.(*staticEntry).data))
	}
	if c.total.Load()+grow > maxStaticTotal {
		return
	}
	if loaded {
		if !c.m.CompareAndSwap(name, old, e) {
			return
		}
	} else if _, raced := c.m.LoadOrStore(name, e); raced {
		return
	}
	c.total.Add(grow)
}
