package aspengo

// Dispatch: URL path -> file under the www root (Aspen's "gauntlet").
//
// The rules, in the order they apply, are documented on [dispatch].

import (
	"errors"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Resource is the file a URL path resolved to.
type Resource struct {
	// Path is the file's name relative to the www root, slash-separated.
	Path string
	// Vars holds the values of virtual path segments by name: a string,
	// or an int for a %name.int segment. It is nil when the path went
	// through no virtual segment.
	Vars map[string]any
}

// errNotFound is dispatch's answer when the path names nothing servable;
// the caller answers 404.
var errNotFound = errors.New("not found")

// redirectError is dispatch's answer when the path names a directory but
// lacks its trailing slash; the caller answers 301 to Location, with the
// request's query string appended.
type redirectError struct {
	// Location is the request path with a slash added, percent-encoded
	// (as url.URL.EscapedPath does) so that it can go into a Location
	// header as it is. It always starts with a single "/".
	Location string
}

func (e *redirectError) Error() string { return "redirect to " + e.Location }

// indexNames are a directory's default documents, in order of preference.
var indexNames = [...]string{"index.html", "index.html.spt", "index.spt"}

// dispatch resolves urlPath, a request's r.URL.Path (percent-decoded,
// starting with "/"), to a file in fsys, the www root. It returns
// errNotFound or a *redirectError when it finds no file to serve.
//
// Names that never resolve (404 before the file system is consulted):
//   - a path that does not start with "/", is not valid UTF-8, or contains a
//     backslash, a NUL or any other control character (C0, DEL, C1);
//   - an empty segment other than the last one ("//" anywhere): it is
//     refused, not canonicalised, so no redirect can start with "//";
//   - a segment starting with "." (".", "..", ".aspen", ".env"): hidden
//     files are never served and nothing can climb out of the root;
//   - a segment starting with "%": virtual names are never requested
//     directly;
//   - a segment that names an editor backup ("login.html.spt~", ".bak",
//     ".orig", ".swp", ".tmp", "#name#"; see isBackupName): such a copy
//     holds a page's source. Backup names are not virtual candidates
//     either;
//   - a last segment ending in ".spt", in any case: simplate file names are not exposed
//     (foo.html.spt answers /foo.html, never /foo.html.spt).
//
// The root itself is the only barrier against symbolic links: in
// production fsys is an os.Root's FS, which refuses any name that leaves
// the root, also through a link; such names are treated as absent (404).
// Links that stay inside the root are followed; note that a link inside
// the root pointing at a hidden directory is the site author's choice and
// is followed too. Any other error from fsys (permission denied, I/O) also
// counts as absent.
//
// Segments other than the last name a directory; in each, the first of
// these that exists is taken, with no backtracking afterwards:
//  1. the directory named exactly as the segment (a file of that name is
//     passed over);
//  2. a virtual directory %name.int whose segment is an int;
//  3. a virtual directory %name, which takes any segment.
//
// The last segment, when it is not empty, names (first match wins):
//  1. the regular file named exactly as the segment (foo.html is served
//     itself even when foo.html.spt exists);
//  2. the regular file named segment+".spt" (foo.html.spt answers
//     /foo.html, foo.spt answers /foo; /foo.html does not fall back to
//     foo.spt);
//  3. the directory named exactly as the segment, if it has a default
//     document: a *redirectError to the path plus "/";
//  4. a virtual file (see below);
//  5. the directory that the path plus "/" would enter (the exact one if
//     it exists, else the first virtual directory that takes the segment,
//     as for other segments): a *redirectError to the path plus "/" if it
//     has a default document, else 404. So a path redirects exactly when
//     the same path with the slash answers with a file.
//
// A last segment that is empty (the path ends in "/") names the directory
// itself: it answers with the directory's default document, index.html,
// else index.html.spt, else index.spt; a directory without one is 404
// (there are no directory listings), with or without the slash.
//
// A virtual file is named %KEY[.int][.EXT][.spt], where KEY has no dot:
// %slug.spt, %id.json, %id.json.spt, %id.int.json.spt, %year.int.spt. With
// an EXT, it answers a segment that ends in "."+EXT after a non-empty
// stem, and the stem is the value (%id.json.spt answers /42.json with
// id="42", %slug.html.spt answers /hello.html with slug="hello"). Without
// an EXT, the whole segment is the value (%slug.spt answers /hello.html
// with slug="hello.html"). A virtual directory is named %KEY or
// %KEY.int; a directory %KEY.EXT is not virtual and never matches.
//
// With .int, the value must be an optional "-" and decimal digits that fit
// in an int; it is stored in Vars as an int, and a value that is not one
// makes that candidate not match, so the next candidate is tried (a
// directory holding %year.int/ and %slug/ sends /2024/ to the first and
// /news/ to the second). Other values are stored as strings.
//
// When a directory holds several virtual candidates of one kind, the most
// specific is tried first: with both an EXT and .int, then with an EXT,
// then with .int, then plain; within each group in byte order of the
// entry names. Entries starting with "%" whose KEY is empty are ignored.
// If two segments set the same KEY, the later one wins.
//
// Resource.Path is always a valid fs.FS name (fs.ValidPath) of a regular
// file, with no hidden segment.
//
// Differences from Aspen's gauntlet (0.14/0.15): a %name.int candidate
// that cannot convert the segment is passed over instead of ending the
// request with a 404; an extensionless virtual file keeps the whole
// segment as its value (Aspen stripped an extension); /foo.html is not
// answered by foo.spt (no indirect negotiation); there is no greedy
// virtual file taking the rest of the path, no autoindex, and no special
// case for /favicon.ico or /robots.txt.
//
// Cost: an exact match costs one Stat per segment; a virtual match also
// reads the directory. The website keeps the answers in a dispatchCache
// while its watcher reports no change under the root.
func dispatch(fsys fs.FS, urlPath string) (*Resource, error) {
	if !validURLPath(urlPath) {
		return nil, errNotFound
	}
	d := dispatcher{fsys: fsys, urlPath: urlPath, dir: ".", literal: true}
	rest := urlPath[1:]
	off := 1 // offset of rest in urlPath
	for {
		seg, tail, more := strings.Cut(rest, "/")
		end := off + len(seg)
		if !more {
			if seg == "" {
				p, ok := d.index(d.dir)
				if !ok {
					return nil, errNotFound
				}
				return &Resource{Path: p, Vars: d.vars}, nil
			}
			return d.last(seg, end)
		}
		if !d.enterDir(seg, end) {
			return nil, errNotFound
		}
		rest, off = tail, end+1
	}
}

// dispatcher holds the state of one dispatch.
type dispatcher struct {
	fsys    fs.FS
	urlPath string
	dir     string // fs name of the directory matched so far; "." is the root
	literal bool   // dir equals urlPath[1:offset-1]: no virtual segment yet
	vars    map[string]any
}

// child returns the fs name of seg within d.dir, where seg is the segment
// of urlPath ending at end.
func (d *dispatcher) child(seg string, end int) string {
	if d.literal {
		return d.urlPath[1:end] // no allocation on the common path
	}
	return join(d.dir, seg)
}

// enterDir matches a segment that is not the last one to a directory.
func (d *dispatcher) enterDir(seg string, end int) bool {
	name := d.child(seg, end)
	if fi, err := fs.Stat(d.fsys, name); err == nil && fi.IsDir() {
		d.dir = name
		return true
	}
	entries := d.virtualEntries()
	for rank := rankInt; rank <= rankPlain; rank++ {
		for _, e := range entries {
			v, ok := parseVirtual(e.Name(), true)
			if !ok || v.rank() != rank {
				continue
			}
			val, ok := v.value(seg)
			if !ok || !d.entryType(e).IsDir() {
				continue
			}
			d.set(v.key, val)
			d.dir = join(d.dir, e.Name())
			d.literal = false
			return true
		}
	}
	return false
}

// last matches the last, non-empty segment, which ends at end in urlPath.
func (d *dispatcher) last(seg string, end int) (*Resource, error) {
	name := d.child(seg, end)
	isDir := false
	if fi, err := fs.Stat(d.fsys, name); err == nil {
		if fi.Mode().IsRegular() {
			return &Resource{Path: name, Vars: d.vars}, nil
		}
		isDir = fi.IsDir()
	}
	if spt := name + ".spt"; d.isFile(spt) {
		return &Resource{Path: spt, Vars: d.vars}, nil
	}
	if isDir {
		if _, ok := d.index(name); ok {
			return nil, d.redirect()
		}
	}

	entries := d.virtualEntries()
	for rank := rankExtInt; rank <= rankPlain; rank++ {
		for _, e := range entries {
			v, ok := parseVirtual(e.Name(), false)
			if !ok || v.rank() != rank {
				continue
			}
			val, ok := v.value(seg)
			if !ok || !d.entryType(e).IsRegular() {
				continue
			}
			d.set(v.key, val)
			return &Resource{Path: join(d.dir, e.Name()), Vars: d.vars}, nil
		}
	}
	if isDir {
		// The path with a slash would enter the exact directory, which
		// has no default document.
		return nil, errNotFound
	}
	for rank := rankInt; rank <= rankPlain; rank++ {
		for _, e := range entries {
			v, ok := parseVirtual(e.Name(), true)
			if !ok || v.rank() != rank {
				continue
			}
			if _, ok := v.value(seg); !ok || !d.entryType(e).IsDir() {
				continue
			}
			// This is the directory the path with a slash would enter.
			if _, ok := d.index(join(d.dir, e.Name())); ok {
				return nil, d.redirect()
			}
			return nil, errNotFound
		}
	}
	return nil, errNotFound
}

// redirect returns the redirect to urlPath with a trailing slash.
func (d *dispatcher) redirect() error {
	u := url.URL{Path: d.urlPath + "/"}
	return &redirectError{Location: u.EscapedPath()}
}

// index returns the fs name of dir's default document.
func (d *dispatcher) index(dir string) (string, bool) {
	for _, n := range indexNames {
		if p := join(dir, n); d.isFile(p) {
			return p, true
		}
	}
	return "", false
}

// isFile reports whether name is a regular file (after following links
// that stay inside the root).
func (d *dispatcher) isFile(name string) bool {
	fi, err := fs.Stat(d.fsys, name)
	return err == nil && fi.Mode().IsRegular()
}

// virtualEntries returns the entries of d.dir whose names start with "%"
// and are not backups, sorted by name.
func (d *dispatcher) virtualEntries() []fs.DirEntry {
	entries, err := fs.ReadDir(d.fsys, d.dir)
	if err != nil {
		return nil
	}
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
		return !strings.HasPrefix(e.Name(), "%") || isBackupName(e.Name())
	})
	// fs.ReadDirFS promises sorted entries; do not rely on every
	// implementation keeping the promise.
	byName := func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }
	if !slices.IsSortedFunc(entries, byName) {
		slices.SortFunc(entries, byName)
	}
	return entries
}

// entryType returns the type of the entry e of d.dir, following a link;
// a link that cannot be followed (dangling, or leaving the root) has type
// fs.ModeIrregular, which is neither a file nor a directory.
func (d *dispatcher) entryType(e fs.DirEntry) fs.FileMode {
	t := e.Type()
	if t&fs.ModeSymlink == 0 {
		return t
	}
	fi, err := fs.Stat(d.fsys, join(d.dir, e.Name()))
	if err != nil {
		return fs.ModeIrregular
	}
	return fi.Mode().Type()
}

// set records the value of a virtual segment.
func (d *dispatcher) set(key string, val any) {
	if d.vars == nil {
		d.vars = make(map[string]any, 2)
	}
	d.vars[key] = val
}

// join returns the fs name of name within dir.
func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// validURLPath reports whether p passes the checks that need no file
// system: see the list on dispatch.
func validURLPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size == 1 { // fs.ValidPath refuses it too
			return false
		}
		if r >= 0x80 && r <= 0x9f { // C1 controls
			return false
		}
		i += size
	}
	rest := p[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if !more {
			return seg == "" || (seg[0] != '.' && seg[0] != '%' && !hasSptSuffix(seg) && !isBackupName(seg))
		}
		if seg == "" || seg[0] == '.' || seg[0] == '%' || isBackupName(seg) {
			return false
		}
		rest = tail
	}
}

// virtual is a parsed virtual entry name.
type virtual struct {
	key   string // the name in Vars
	ext   string // without its leading dot; empty for none
	isInt bool
}

// Candidate ranks: the most specific virtual entries are tried first.
const (
	rankExtInt = iota
	rankExt
	rankInt
	rankPlain
)

func (v virtual) rank() int {
	switch {
	case v.ext != "" && v.isInt:
		return rankExtInt
	case v.ext != "":
		return rankExt
	case v.isInt:
		return rankInt
	}
	return rankPlain
}

// parseVirtual parses the name of an entry starting with "%": for a file
// %KEY[.int][.EXT][.spt], for a directory %KEY[.int].
func parseVirtual(name string, dir bool) (virtual, bool) {
	s, ok := strings.CutPrefix(name, "%")
	if !ok {
		return virtual{}, false
	}
	if !dir {
		s = strings.TrimSuffix(s, ".spt")
	}
	key, rest, _ := strings.Cut(s, ".")
	if key == "" {
		return virtual{}, false
	}
	v := virtual{key: key}
	if rest == "int" {
		v.isInt, rest = true, ""
	} else if r, ok := strings.CutPrefix(rest, "int."); ok {
		v.isInt, rest = true, r
	}
	if dir && rest != "" {
		return virtual{}, false
	}
	v.ext = rest
	return v, true
}

// value returns the value v takes from the segment seg, or false when v
// does not match seg.
func (v virtual) value(seg string) (any, bool) {
	if v.ext != "" {
		stem, ok := strings.CutSuffix(seg, v.ext)
		if !ok || len(stem) < 2 || stem[len(stem)-1] != '.' {
			return nil, false
		}
		seg = stem[:len(stem)-1]
	}
	if !v.isInt {
		return seg, true
	}
	n, ok := parseInt(seg)
	if !ok {
		return nil, false
	}
	return n, true
}

// parseInt parses an optional "-" followed by decimal digits.
func parseInt(s string) (int, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// hasSptSuffix reports whether seg ends in ".spt" in any case: on a
// case-insensitive file system /index.html.SPT would open the simplate's
// source, which must never be served.
func hasSptSuffix(seg string) bool {
	return len(seg) >= 4 && strings.EqualFold(seg[len(seg)-4:], ".spt")
}

// maxDispatchCache bounds the dispatch cache: past it the cache starts
// over, so that requests for many made-up paths cost memory only up to
// this many entries.
const maxDispatchCache = 4096

// dispatchCache keeps dispatch's answers while nothing under the root
// changes (see changeWatcher): a change drops them all.
type dispatchCache struct {
	cur atomic.Pointer[dispatchGen]
}

// dispatchGen is the cache for one checkpoint of the change count.
type dispatchGen struct {
	cp uint64
	m  sync.Map // URL path → dispatchResult
	n  atomic.Int64
}

// dispatchResult is one answer of dispatch. Its Resource is shared by
// every request for the same path: nobody changes it.
type dispatchResult struct {
	res *Resource
	err error
}

// get returns dispatch(fsys, urlPath), from the cache when the checkpoint
// cp (0: nothing can be trusted) is the one it was cached at.
func (c *dispatchCache) get(fsys fs.FS, urlPath string, cp uint64) (*Resource, error) {
	if cp == 0 {
		return dispatch(fsys, urlPath)
	}
	g := c.cur.Load()
	if g != nil && g.cp == cp {
		if r, ok := g.m.Load(urlPath); ok {
			r := r.(dispatchResult)
			return r.res, r.err
		}
	}
	res, err := dispatch(fsys, urlPath)
	if err != nil && !errors.Is(err, errNotFound) {
		var redir *redirectError
		if !errors.As(err, &redir) {
			return res, err
		}
	}
	if g != nil && g.cp > cp {
		return res, err // a newer checkpoint is cached already
	}
	if g == nil || g.cp != cp || g.n.Load() >= maxDispatchCache {
		ng := &dispatchGen{cp: cp}
		if !c.cur.CompareAndSwap(g, ng) {
			return res, err // another request replaced it; cache next time
		}
		g = ng
	}
	if _, loaded := g.m.LoadOrStore(urlPath, dispatchResult{res, err}); !loaded {
		g.n.Add(1)
	}
	return res, err
}
