package aspengo

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// dispatchFS is the site most dispatch tests run against.
func dispatchFS() fstest.MapFS {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"index.html":          file("home"),
		"about.html":          file("about"),
		"contact.html.spt":    file("contact"),
		"faq.spt":             file("faq"),
		"upper.html.SPT":      file("as a case-insensitive file system would find contact.html.spt"),
		"foo.html":            file("static foo"),
		"foo.html.spt":        file("simplate foo"),
		".hidden.html":        file("hidden"),
		".aspen/hooks.conf":   file("hooks"),
		".aspen/index.html":   file("aspen index"),
		"pipe.html":           {Mode: fs.ModeNamedPipe},
		"docs/index.html":     file("docs"),
		"docs/guide.html":     file("guide"),
		"docs/.secret":        file("secret"),
		"empty/style.css":     file("css"),
		"sptonly/index.spt":   file("sptonly"),
		"idx/index.html":      file("1"),
		"idx/index.html.spt":  file("2"),
		"idx/index.spt":       file("3"),
		"idx2/index.html.spt": file("2"),
		"idx2/index.spt":      file("3"),
		"dual.spt":            file("dual file"),
		"dual/index.html":     file("dual dir"),
		"a b/index.html":      file("space"),
		"café/index.html":     file("cafe"),
		"q?x/index.html":      file("question"),

		"blog/%year.int/index.html.spt": file("year"),
		"blog/%year.int/%slug.html.spt": file("post"),
		"blog/%category/index.html":     file("category"),
		"blog/archive/index.html":       file("archive"),
		"api/%id.json.spt":              file("json"),
		"api/%name.spt":                 file("name"),
		"api/users.json":                file("users"),
		"ints/%n.int.spt":               file("n"),
		"users/%user/index.html.spt":    file("profile"),
		"users/%user/settings.html.spt": file("settings"),
		"multi/%b.spt":                  file("b"),
		"multi/%a.spt":                  file("a"),
		"spec/%a.spt":                   file("a"),
		"spec/%z.json.spt":              file("z"),
		"spec/%m.int.json.spt":          file("m"),
		"files/%name":                   file("static virtual"),
		"noidx/%x/file.txt":             file("file"),
		"weird/%x.json/index.html":      file("not virtual"),
		"weird/%/index.html":            file("no key"),
		"nested/%a/%b.int/%c.txt":       file("nested"),
		"fileasdir/thing":               file("a file, not a dir"),
		"fileasdir/%d/x.html":           file("virtual dir x"),
		"vdirfirst/%f.spt":              file("virtual file"),
		"vdirfirst/%d/index.html":       file("virtual dir"),
		"vdironly/%d/index.html":        file("virtual dir"),
		"twokeys/%id/%id.spt":           file("two"),
		// Names that exist, so that only the character checks refuse them.
		"back\\slash.html":        file("backslash"),
		"ctl\x01.html":            file("control"),
		"nl\n.html":               file("newline"),
		"del\x7f.html":            file("DEL"),
		"c1\u0085.html":           file("C1"),
		"ok\ufffd.html":           file("replacement character, valid UTF-8"),
		"shadow/empty/style.css":  file("css"),
		"shadow/%d/index.html":    file("virtual dir"),
		"shadow2/empty/style.css": file("css"),
		"shadow2/%f.spt":          file("virtual file"),
		// Editor backups, never served (see TestDispatchBackups).
		"contact.html.spt~":     file("backup"),
		"contact.html.spt.orig": file("backup"),
		"#contact.html.spt#":    file("backup"),
		"bk/%slug~":             file("backup of a virtual file"),
	}
}

func TestDispatch(t *testing.T) {
	fsys := dispatchFS()
	vars := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	const notFound = "404"
	tests := []struct {
		name     string
		path     string
		want     string         // Resource.Path, notFound, or "301 <Location>"
		wantVars map[string]any // nil when no virtual segment
	}{
		// Static files and simplates.
		{"root index", "/", "index.html", nil},
		{"static file", "/about.html", "about.html", nil},
		{"html simplate", "/contact.html", "contact.html.spt", nil},
		{"extensionless simplate", "/faq", "faq.spt", nil},
		{"no indirect negotiation", "/faq.html", notFound, nil},
		{"spt needs its extension", "/contact", notFound, nil},
		{"existing file beats simplate", "/foo.html", "foo.html", nil},
		{"simplate source name hidden", "/contact.html.spt", notFound, nil},
		{"spt source name hidden", "/faq.spt", notFound, nil},
		{"index source name hidden", "/docs/index.html.spt", notFound, nil},
		{"source name hidden in any case", "/upper.html.SPT", notFound, nil},
		{"file in dir", "/docs/guide.html", "docs/guide.html", nil},
		{"index by name", "/docs/index.html", "docs/index.html", nil},
		{"missing", "/nope.html", notFound, nil},
		{"missing dir", "/nope/x.html", notFound, nil},
		{"not a regular file", "/pipe.html", notFound, nil},
		{"file used as dir", "/about.html/x", notFound, nil},
		{"file with trailing slash", "/about.html/", notFound, nil},

		// Directories.
		{"dir redirect", "/docs", "301 /docs/", nil},
		{"dir index", "/docs/", "docs/index.html", nil},
		{"index.spt", "/sptonly/", "sptonly/index.spt", nil},
		{"index.html first", "/idx/", "idx/index.html", nil},
		{"index.html.spt before index.spt", "/idx2/", "idx2/index.html.spt", nil},
		{"no index, slash", "/empty/", notFound, nil},
		{"no index, no slash", "/empty", notFound, nil},
		{"file in dir without index", "/empty/style.css", "empty/style.css", nil},
		{"file.spt beats dir", "/dual", "dual.spt", nil},
		{"dir after file.spt", "/dual/", "dual/index.html", nil},
		{"redirect escapes space", "/a b", "301 /a%20b/", nil},
		{"redirect escapes non-ascii", "/café", "301 /caf%C3%A9/", nil},
		{"redirect escapes question mark", "/q?x", "301 /q%3Fx/", nil},

		// Escapes and hidden files.
		{"dotdot", "/../etc/passwd", notFound, nil},
		{"dotdot inside", "/docs/../about.html", notFound, nil},
		{"dotdot last", "/docs/..", notFound, nil},
		{"dotdot dir", "/docs/../", notFound, nil},
		{"dot", "/./about.html", notFound, nil},
		{"dot last", "/docs/.", notFound, nil},
		{"hidden dir", "/.aspen/hooks.conf", notFound, nil},
		{"hidden dir index", "/.aspen/", notFound, nil},
		{"hidden dir redirect", "/.aspen", notFound, nil},
		{"hidden file", "/.hidden.html", notFound, nil},
		{"hidden file in dir", "/docs/.secret", notFound, nil},
		{"backslash", "/docs\\guide.html", notFound, nil},
		{"backslash dotdot", "/docs/..\\about.html", notFound, nil},
		{"leading backslash", "/\\about.html", notFound, nil},
		{"NUL", "/about.html\x00", notFound, nil},
		{"NUL inside", "/docs/\x00guide.html", notFound, nil},
		{"control char", "/about\x01.html", notFound, nil},
		{"newline", "/about.html\n", notFound, nil},
		{"DEL", "/about.html\x7f", notFound, nil},
		{"C1 control", "/about\u0085.html", notFound, nil},
		{"invalid UTF-8", "/about\xff.html", notFound, nil},
		{"existing backslash name", "/back\\slash.html", notFound, nil},
		{"existing control name", "/ctl\x01.html", notFound, nil},
		{"existing newline name", "/nl\n.html", notFound, nil},
		{"existing DEL name", "/del\x7f.html", notFound, nil},
		{"existing C1 name", "/c1\u0085.html", notFound, nil},
		{"U+FFFD is valid", "/ok\ufffd.html", "ok\ufffd.html", nil},
		{"empty", "", notFound, nil},
		{"relative", "about.html", notFound, nil},
		{"double slash", "//about.html", notFound, nil},
		{"double slash inside", "/docs//guide.html", notFound, nil},
		{"double slash dir", "/docs//", notFound, nil},
		{"double slash root", "//", notFound, nil},

		// Virtual paths.
		{"virtual int dir", "/blog/2024/", "blog/%year.int/index.html.spt", vars("year", 2024)},
		{"virtual int negative", "/blog/-1/", "blog/%year.int/index.html.spt", vars("year", -1)},
		{"virtual int leading zeros", "/blog/007/", "blog/%year.int/index.html.spt", vars("year", 7)},
		{"virtual dir redirect", "/blog/2024", "301 /blog/2024/", nil},
		{"virtual file in virtual dir", "/blog/2024/hello.html", "blog/%year.int/%slug.html.spt", vars("year", 2024, "slug", "hello")},
		{"virtual file dotted stem", "/blog/2024/a.b.html", "blog/%year.int/%slug.html.spt", vars("year", 2024, "slug", "a.b")},
		{"virtual file wrong ext", "/blog/2024/hello.txt", notFound, nil},
		{"virtual file bare ext", "/blog/2024/html", notFound, nil},
		{"non-int falls through to %category", "/blog/news/", "blog/%category/index.html", vars("category", "news")},
		{"plus sign is not an int", "/blog/+5/", "blog/%category/index.html", vars("category", "+5")},
		{"overflow is not an int", "/blog/99999999999999999999/", "blog/%category/index.html", vars("category", "99999999999999999999")},
		{"exact beats virtual", "/blog/archive/", "blog/archive/index.html", nil},
		{"direct virtual request", "/blog/%year.int/", notFound, nil},
		{"direct virtual file request", "/api/%id.json", notFound, nil},
		{"direct virtual request root", "/%name", notFound, nil},
		{"json virtual file", "/api/42.json", "api/%id.json.spt", vars("id", "42")},
		{"exact file beats virtual file", "/api/users.json", "api/users.json", nil},
		{"extensionless virtual takes whole segment", "/api/hello.txt", "api/%name.spt", vars("name", "hello.txt")},
		{"extensionless virtual", "/api/hello", "api/%name.spt", vars("name", "hello")},
		{"virtual int file", "/ints/42", "ints/%n.int.spt", vars("n", 42)},
		{"virtual int file rejects", "/ints/abc", notFound, nil},
		{"virtual int file rejects empty minus", "/ints/-", notFound, nil},
		{"virtual dir then file", "/users/alice/settings.html", "users/%user/settings.html.spt", vars("user", "alice")},
		{"virtual dir index", "/users/alice/", "users/%user/index.html.spt", vars("user", "alice")},
		{"virtual dir no slash", "/users/alice", "301 /users/alice/", nil},
		{"percent inside segment", "/users/a%b/", "users/%user/index.html.spt", vars("user", "a%b")},
		{"virtual value unicode", "/users/zoë/", "users/%user/index.html.spt", vars("user", "zoë")},
		{"several candidates sorted", "/multi/x", "multi/%a.spt", vars("a", "x")},
		{"ext+int most specific", "/spec/1.json", "spec/%m.int.json.spt", vars("m", 1)},
		{"ext before plain", "/spec/x.json", "spec/%z.json.spt", vars("z", "x")},
		{"plain last", "/spec/x", "spec/%a.spt", vars("a", "x")},
		{"static virtual file", "/files/readme", "files/%name", vars("name", "readme")},
		{"virtual dir without index", "/noidx/a", notFound, nil},
		{"virtual dir without index, slash", "/noidx/a/", notFound, nil},
		{"file in virtual dir without index", "/noidx/a/file.txt", "noidx/%x/file.txt", vars("x", "a")},
		{"%x.json dir is not virtual", "/weird/a/", notFound, nil},
		{"nested virtual", "/nested/p/3/q.txt", "nested/%a/%b.int/%c.txt", vars("a", "p", "b", 3, "c", "q")},
		{"nested virtual int rejects", "/nested/p/q/q.txt", notFound, nil},
		{"file passed over as dir", "/fileasdir/thing/x.html", "fileasdir/%d/x.html", vars("d", "thing")},
		{"virtual file before virtual dir", "/vdirfirst/x", "vdirfirst/%f.spt", vars("f", "x")},
		{"virtual dir redirect", "/vdironly/x", "301 /vdironly/x/", nil},
		{"exact dir without index shadows virtual dir", "/shadow/empty", notFound, nil},
		{"exact dir without index shadows virtual dir, slash", "/shadow/empty/", notFound, nil},
		{"file in exact dir next to virtual dir", "/shadow/empty/style.css", "shadow/empty/style.css", nil},
		{"virtual dir next to exact dir", "/shadow/other", "301 /shadow/other/", nil},
		{"exact dir without index passed over for virtual file", "/shadow2/empty", "shadow2/%f.spt", vars("f", "empty")},
		{"later key wins", "/twokeys/a/b", "twokeys/%id/%id.spt", vars("id", "b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := dispatch(fsys, tt.path)
			var got string
			var gotVars map[string]any
			var redir *redirectError
			switch {
			case err == nil:
				got, gotVars = res.Path, res.Vars
			case errors.Is(err, errNotFound):
				got = notFound
			case errors.As(err, &redir):
				got = "301 " + redir.Location
			default:
				t.Fatalf("dispatch(%q): unexpected error %v", tt.path, err)
			}
			if got != tt.want {
				t.Errorf("dispatch(%q) = %q, want %q", tt.path, got, tt.want)
			}
			if diff := cmp.Diff(tt.wantVars, gotVars); diff != "" {
				t.Errorf("dispatch(%q) vars (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

// unsortedFS returns directory entries in reverse order, breaking the
// fs.ReadDirFS promise that dispatch does not rely on.
type unsortedFS struct{ fstest.MapFS }

func (u unsortedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := u.MapFS.ReadDir(name)
	slices.Reverse(entries)
	return entries, err
}

func TestDispatchUnsortedReadDir(t *testing.T) {
	fsys := unsortedFS{dispatchFS()}
	if entries, _ := fs.ReadDir(fsys, "multi"); len(entries) != 2 || entries[0].Name() != "%b.spt" {
		t.Fatalf("unsortedFS does not reverse: %v", entries)
	}
	res, err := dispatch(fsys, "/multi/x")
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != "multi/%a.spt" {
		t.Errorf("dispatch(/multi/x) = %q, want multi/%%a.spt", res.Path)
	}
}

// TestDispatchVarTypes checks that .int values are ints and others strings,
// not merely values that print alike.
func TestDispatchVarTypes(t *testing.T) {
	res, err := dispatch(dispatchFS(), "/nested/p/3/q.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Vars["b"].(int); !ok {
		t.Errorf("Vars[b] = %#v, want an int", res.Vars["b"])
	}
	if _, ok := res.Vars["a"].(string); !ok {
		t.Errorf("Vars[a] = %#v, want a string", res.Vars["a"])
	}
}

// osSite builds, in a temporary directory, a www root next to a directory
// "outside" holding files that must never be served, with symbolic links
// from the root pointing both inside and outside. It returns the root's
// FS.
func osSite(t testing.TB) fs.FS {
	t.Helper()
	base := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	write("outside/secret.txt", "SECRET")
	write("outside/dir/index.html", "SECRET INDEX")
	write("outside/dir/page.html", "SECRET PAGE")
	write("www/index.html", "home")
	write("www/real/page.html", "inside page")
	write("www/real/index.html", "inside index")
	write("www/.aspen/hooks.conf", "hooks")
	link("real", "www/in")                                            // inward dir
	link("real/page.html", "www/inlink.html")                         // inward file
	link("../outside", "www/out")                                     // outward dir
	link("../outside/secret.txt", "www/secret.txt")                   // outward file
	link(filepath.Join(base, "outside", "secret.txt"), "www/abs.txt") // absolute outward
	link("../../outside/dir", "www/v/%x")                             // outward virtual dir
	link("../../outside/secret.txt", "www/vf/%name.spt")              // outward virtual file
	link("../real", "www/w/%x")                                       // inward virtual dir
	link("../real/page.html", "www/wf/%name.html")                    // inward virtual file
	link("missing", "www/dangling.html")                              // dangling

	root, err := os.OpenRoot(filepath.Join(base, "www"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root.FS()
}

func TestDispatchOSRoot(t *testing.T) {
	fsys := osSite(t)
	tests := []struct {
		path     string
		want     string // Resource.Path, "404" or "301 <Location>"
		wantBody string // content of Resource.Path, when found
	}{
		{"/", "index.html", "home"},
		{"/in/page.html", "in/page.html", "inside page"},
		{"/in/", "in/index.html", "inside index"},
		{"/in", "301 /in/", ""},
		{"/inlink.html", "inlink.html", "inside page"},
		{"/w/anything/page.html", "w/%x/page.html", "inside page"},
		{"/w/anything/", "w/%x/index.html", "inside index"},
		{"/wf/foo.html", "wf/%name.html", "inside page"},
		{"/out/secret.txt", "404", ""},
		{"/out/dir/", "404", ""},
		{"/out/dir", "404", ""},
		{"/out", "404", ""},
		{"/secret.txt", "404", ""},
		{"/abs.txt", "404", ""},
		{"/v/foo/", "404", ""},
		{"/v/foo", "404", ""},
		{"/v/foo/page.html", "404", ""},
		{"/vf/foo", "404", ""},
		{"/dangling.html", "404", ""},
		{"/../outside/secret.txt", "404", ""},
		{"/.aspen/hooks.conf", "404", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := dispatch(fsys, tt.path)
			var got string
			var redir *redirectError
			switch {
			case err == nil:
				got = res.Path
			case errors.Is(err, errNotFound):
				got = "404"
			case errors.As(err, &redir):
				got = "301 " + redir.Location
			default:
				t.Fatalf("unexpected error %v", err)
			}
			if got != tt.want {
				t.Fatalf("dispatch(%q) = %q, want %q", tt.path, got, tt.want)
			}
			if err != nil {
				return
			}
			body, err := fs.ReadFile(fsys, res.Path)
			if err != nil {
				t.Fatalf("reading %s: %v", res.Path, err)
			}
			if string(body) != tt.wantBody {
				t.Errorf("%s holds %q, want %q", res.Path, body, tt.wantBody)
			}
		})
	}
}

// TestDispatchHTTP sends percent-encoded escape attempts to a real server
// whose handler passes r.URL.Path (as net/http decoded it) to dispatch and
// serves the file it names.
func TestDispatchHTTP(t *testing.T) {
	fsys := osSite(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Decoded-Path", strconv.Quote(r.URL.Path))
		res, err := dispatch(fsys, r.URL.Path)
		var redir *redirectError
		switch {
		case errors.As(err, &redir):
			http.Redirect(w, r, redir.Location, http.StatusMovedPermanently)
		case err != nil:
			http.NotFound(w, r)
		default:
			http.ServeFileFS(w, r, fsys, res.Path)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		raw         string // request target, sent as is
		wantDecoded string // r.URL.Path the handler saw
		wantCode    int
		wantBody    string
	}{
		{"/%2e%2e/outside/secret.txt", "/../outside/secret.txt", 404, ""},
		{"/%2E%2E/outside/secret.txt", "/../outside/secret.txt", 404, ""},
		{"/in/%2e%2e/%2e%2e/outside/secret.txt", "/in/../../outside/secret.txt", 404, ""},
		{"/%2e%2e%2foutside%2fsecret.txt", "/../outside/secret.txt", 404, ""},
		{"/..%5c..%5coutside%5csecret.txt", "/..\\..\\outside\\secret.txt", 404, ""},
		{"/%2easpen/hooks.conf", "/.aspen/hooks.conf", 404, ""},
		{"/index.html%00", "/index.html\x00", 404, ""},
		{"/%25x/", "/%x/", 404, ""},
		{"/out/secret.txt", "/out/secret.txt", 404, ""},
		{"/in/page%2ehtml", "/in/page.html", 200, "inside page"},
		{"/in", "/in", 301, ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			req, err := http.NewRequest("GET", srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.raw // sent verbatim, no client-side cleaning
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := new(strings.Builder)
			_, err = io.Copy(body, resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("X-Decoded-Path"); got != strconv.Quote(tt.wantDecoded) {
				t.Errorf("handler saw %s, want %q", got, tt.wantDecoded)
			}
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tt.wantCode, body)
			}
			if strings.Contains(body.String(), "SECRET") {
				t.Errorf("served a file outside the root: %q", body)
			}
			if tt.wantCode == 200 && body.String() != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if tt.wantCode == 301 {
				if loc := resp.Header.Get("Location"); loc != tt.wantDecoded+"/" {
					t.Errorf("Location %q, want %q", loc, tt.wantDecoded+"/")
				}
			}
		})
	}
}

func FuzzDispatch(f *testing.F) {
	fsys := dispatchFS()
	for _, s := range []string{
		"/", "/about.html", "/docs", "/docs/", "/../x", "/.aspen/hooks.conf",
		"/blog/2024/hello.html", "/blog/x/", "/api/1.json", "/spec/1.json",
		"/nested/a/1/b.txt", "/users/u/settings.html", "/%name", "//",
		"/a\\b", "/\x00", "/contact.html", "/vdirfirst/x", "/twokeys/a/b",
		"/shadow/empty", "/shadow/x", "/fileasdir/thing/", "/w/x/page.html",
		"/contact.html.spt~", "/#contact.html.spt#", "/bk/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		res, err := dispatch(fsys, p)
		var redir *redirectError
		switch {
		case err == nil:
			if res == nil {
				t.Fatalf("dispatch(%q): nil resource and nil error", p)
			}
			if !fs.ValidPath(res.Path) || res.Path == "." {
				t.Fatalf("dispatch(%q) = invalid path %q", p, res.Path)
			}
			for _, seg := range strings.Split(res.Path, "/") {
				if strings.HasPrefix(seg, ".") {
					t.Fatalf("dispatch(%q) = %q, with hidden or dot segment", p, res.Path)
				}
				if isBackupName(seg) {
					t.Fatalf("dispatch(%q) = %q, an editor backup", p, res.Path)
				}
			}
			fi, err := fs.Stat(fsys, res.Path)
			if err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("dispatch(%q) = %q, not a regular file in the FS (%v)", p, res.Path, err)
			}
			for k, v := range res.Vars {
				switch v.(type) {
				case string, int:
				default:
					t.Fatalf("dispatch(%q): Vars[%q] = %#v", p, k, v)
				}
			}
		case errors.As(err, &redir):
			loc := redir.Location
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || !strings.HasSuffix(loc, "/") ||
				strings.ContainsAny(loc, "\\\x00?#") {
				t.Fatalf("dispatch(%q): bad redirect %q", p, loc)
			}
			// The redirect target must itself dispatch to a file.
			if _, err := dispatch(fsys, p+"/"); err != nil {
				t.Fatalf("dispatch(%q) redirects, but dispatch(%q) = %v", p, p+"/", err)
			}
		case errors.Is(err, errNotFound):
		default:
			t.Fatalf("dispatch(%q): unexpected error %v", p, err)
		}
	})
}

// BenchmarkDispatch measures dispatch over an in-memory FS (most of whose
// allocations are fstest.MapFS's own) and over an os.Root, as in
// production.
func BenchmarkDispatch(b *testing.B) {
	mapFS, rootFS := dispatchFS(), osSite(b)
	for _, bc := range []struct {
		name string
		fsys fs.FS
		path string
	}{
		{"static", mapFS, "/docs/guide.html"},
		{"simplate", mapFS, "/contact.html"},
		{"index", mapFS, "/docs/"},
		{"virtual", mapFS, "/blog/2024/hello.html"},
		{"osroot-static", rootFS, "/real/page.html"},
		{"osroot-virtual", rootFS, "/w/anything/page.html"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dispatch(bc.fsys, bc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
