package aspengo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
)

// testHooksRegistry returns a registry with fake built-in hooks: trembling's
// three, and timing:request, a hook of an undotted module that serves both
// kinds of request phases.
func testHooksRegistry(t testing.TB) *Registry {
	t.Helper()
	req := func(*Request) error { return nil }
	r := NewRegistry()
	for name, h := range map[string]Hook{
		"trembling.session:inbound":  {Inbound: req},
		"trembling.session:outbound": {Outbound: req},
		"trembling.auth:inbound":     {Inbound: req, After: []string{"trembling.session:inbound"}},
		"timing:request":             {Inbound: req, Outbound: req},
		"cache:startup":              {Startup: func(context.Context, *Website) error { return nil }},
	} {
		if err := r.Hook(name, h); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// fakeHookModules stands for the .star files of www/.aspen: module name →
// its globals. A module that is not in the map has no file.
type fakeHookModules map[string]starlark.StringDict

// errBrokenModule is the load error of the module "broken".
var errBrokenModule = errors.New("www/.aspen/broken.star:3:1: got '=', want expression")

func (m fakeHookModules) hookFunc(module, function string) (starlark.Callable, error) {
	if module == "broken" {
		return nil, errBrokenModule
	}
	globals, ok := m[module]
	if !ok {
		return nil, fmt.Errorf("www/.aspen/%s.star: %w", module, fs.ErrNotExist)
	}
	v, ok := globals[function]
	if !ok {
		return nil, fmt.Errorf("www/.aspen/%s.star has no function %q", module, function)
	}
	fn, ok := v.(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("www/.aspen/%s.star: %s is a %s, not a function", module, function, v.Type())
	}
	return fn, nil
}

func testHookModules() fakeHookModules {
	fn := func(name string) starlark.Value {
		return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, nil
		})
	}
	return fakeHookModules{
		"database": {"startup": fn("startup"), "title": starlark.String("Todoy")},
		"log":      {"request": fn("request")},
	}
}

// hookLines summarizes phases as "phase line module:function", with
// " (builtin)" for an entry whose Builtin is set, in phase order. It checks
// that each entry's Phase is the section it is in.
func hookLines(t testing.TB, phases [numPhases][]hookEntry) []string {
	t.Helper()
	var out []string
	for p, entries := range phases {
		for _, e := range entries {
			if e.Phase != Phase(p) {
				t.Errorf("%s on line %d is in section %s but has Phase %s", e.Name(), e.Line, Phase(p), e.Phase)
			}
			s := fmt.Sprintf("%s %d %s", e.Phase, e.Line, e.Name())
			if e.Builtin != nil {
				s += " (builtin)"
			}
			out = append(out, s)
		}
	}
	return out
}

// errLines splits a joined error into its messages, one per line.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// trembling is what trembling's README hooks.conf lists, once resolved.
var tremblingHooks = []string{
	"startup 2 database:startup",
	"inbound_early 6 trembling.session:inbound (builtin)",
	"inbound_early 7 trembling.auth:inbound (builtin)",
	"outbound_late 17 trembling.session:outbound (builtin)",
}

func TestHooksConfTrembling(t *testing.T) {
	readme, err := os.ReadFile("testdata/hooksconf/trembling.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("\n^L\n")) || bytes.ContainsRune(readme, '\f') {
		t.Fatal("trembling.conf must spell its page breaks ^L")
	}
	formfeed, err := os.ReadFile("testdata/hooksconf/trembling-formfeed.conf")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(formfeed, []byte("\f")) != 5 || bytes.Contains(formfeed, []byte("^L")) {
		t.Fatal("trembling-formfeed.conf must have five form feeds and no ^L")
	}
	indented, err := os.ReadFile("testdata/hooksconf/trembling-indented.conf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  []byte
	}{
		{"caret-L", readme},
		{"form feed", formfeed},
		{"indented as in the README's Markdown", indented},
		{"CRLF", bytes.ReplaceAll(readme, []byte("\n"), []byte("\r\n"))},
		{"BOM", append([]byte(utf8BOM), readme...)},
		{"BOM and CRLF", append([]byte(utf8BOM), bytes.ReplaceAll(formfeed, []byte("\n"), []byte("\r\n"))...)},
	}
	reg := testHooksRegistry(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := parseHooksConf("hooks.conf", tt.src)
			if err != nil {
				t.Fatalf("parseHooksConf: %v", err)
			}
			resolved, err := reg.resolve("hooks.conf", parsed, testHookModules())
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if diff := cmp.Diff(tremblingHooks, hookLines(t, resolved)); diff != "" {
				t.Errorf("hooks (-want +got):\n%s", diff)
			}
			// Builtin points at the registered hook itself.
			for _, e := range resolved[InboundEarly] {
				if h, _ := reg.lookup(e.Name()); e.Builtin != h {
					t.Errorf("%s: Builtin is not the registered hook", e.Name())
				}
			}
			if got := resolved[Startup][0]; got.Module != "database" || got.Function != "startup" || got.Builtin != nil {
				t.Errorf("startup hook = %+v, want the Starlark hook database:startup", got)
			}
			// parse alone sets no Builtin.
			for _, entries := range parsed {
				for _, e := range entries {
					if e.Builtin != nil {
						t.Errorf("parseHooksConf set Builtin of %s", e.Name())
					}
				}
			}
		})
	}
}

func TestParseHooksConf(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string // hookLines of the result
		wantErr []string // without the "hooks.conf:" prefix
	}{
		{name: "empty", src: ""},
		{name: "only comments and blank lines", src: "# hooks\n\n   \n\t# indented comment\n"},
		{name: "one section", src: "database:startup", want: []string{"startup 1 database:startup"}},
		{
			name: "comments after hooks",
			src:  "database:startup # connect\nlog:request#no space\n#x:y\n  # a:b",
			want: []string{"startup 1 database:startup", "startup 2 log:request"},
		},
		{
			name: "surrounding whitespace",
			src:  "  database:startup\t \n\t\tlog:request\v\n\u00a0a.b:c\u00a0",
			want: []string{"startup 1 database:startup", "startup 2 log:request", "startup 3 a.b:c"},
		},
		{
			name: "CRLF",
			src:  "# s\r\na:b\r\n^L\r\nc.d:e # x\r\n\f\r\n",
			want: []string{"startup 2 a:b", "inbound_early 4 c.d:e"},
		},
		{
			name: "BOM",
			src:  utf8BOM + "a:b\n^L\nc:d\n",
			want: []string{"startup 1 a:b", "inbound_early 3 c:d"},
		},
		{
			name: "BOM before a comment",
			src:  utf8BOM + "# startup\na:b\n",
			want: []string{"startup 2 a:b"},
		},
		{
			name: "fewer than six sections",
			src:  "a:b\n^L\nc:d\n^L\n^L\ne:f\n",
			want: []string{"startup 1 a:b", "inbound_early 3 c:d", "outbound_early 6 e:f"},
		},
		{
			name: "every section",
			src:  "a:s\n\f\na:ie\n\f\na:il\n\f\na:oe\n\f\na:ol\n\f\na:sd\n",
			want: []string{
				"startup 1 a:s", "inbound_early 3 a:ie", "inbound_late 5 a:il",
				"outbound_early 7 a:oe", "outbound_late 9 a:ol", "shutdown 11 a:sd",
			},
		},
		{
			name: "page break in mid line",
			src:  "a:b ^L c:d\fe:f",
			want: []string{"startup 1 a:b", "inbound_early 1 c:d", "inbound_late 1 e:f"},
		},
		{
			name: "page break at the start of a line",
			src:  "\fa:b\n^Lc:d",
			want: []string{"inbound_early 1 a:b", "inbound_late 2 c:d"},
		},
		{
			// As in Aspen: the page break is found before the comment is
			// stripped, so it ends the section and what follows is a hook.
			name: "page break inside a comment",
			src:  "# startup ^L a:b\n# inbound_early \f # still a comment\nc:d",
			want: []string{"inbound_early 1 a:b", "inbound_late 3 c:d"},
		},
		{
			name: "trailing page break after the sixth section",
			src:  "a:b\n^L\n^L\n^L\n^L\n^L\nz:z\n^L\n",
			want: []string{"startup 1 a:b", "shutdown 7 z:z"},
		},
		{
			name: "blank lines, comments and page breaks after the end",
			src:  "^L^L^L^L^L\nz:z\n^L # end\n\n# a:b ^L\n\f\f  \n   # more\n",
			want: []string{"shutdown 2 z:z"},
		},
		{
			name:    "hook after the sixth page break",
			src:     "^L^L^L^L^L\nz:z\n^L\n# ok\n\nx:y\nstill:ignored\nbad\n",
			wantErr: []string{`6: more than six sections ("x:y" follows the page break that ends shutdown)`},
		},
		{
			name:    "hook after the sixth page break on the same line",
			src:     "\f\f\f\f\f\fx:y",
			wantErr: []string{`1: more than six sections ("x:y" follows the page break that ends shutdown)`},
		},
		{
			name:    "text after a page break in a comment after the end",
			src:     "\f\f\f\f\f\f# the end ^L oops\n",
			wantErr: []string{`1: more than six sections ("oops" follows the page break that ends shutdown)`},
		},
		{name: "no colon", src: "database", wantErr: []string{`1: "database" is not module:function (no colon)`}},
		{name: "two words, no colon", src: "database startup", wantErr: []string{`1: "database startup" is not module:function (no colon)`}},
		{name: "more than one colon", src: "a:b:c", wantErr: []string{`1: "a:b:c" is not module:function (more than one colon)`}},
		{name: "double colon", src: "trembling::session", wantErr: []string{`1: "trembling::session" is not module:function (more than one colon)`}},
		{name: "empty module", src: ":startup", wantErr: []string{`1: ":startup" is not module:function (empty module)`}},
		{name: "empty function", src: "database:", wantErr: []string{`1: "database:" is not module:function (empty function)`}},
		{name: "only a colon", src: ":", wantErr: []string{`1: ":" is not module:function (empty module)`}},
		{name: "space after the colon", src: "database: startup", wantErr: []string{`1: "database: startup" is not module:function (whitespace inside)`}},
		{name: "space before the colon", src: "trembling.session :inbound", wantErr: []string{`1: "trembling.session :inbound" is not module:function (whitespace inside)`}},
		{name: "tab inside", src: "trembling\t.session:inbound", wantErr: []string{`1: "trembling\t.session:inbound" is not module:function (whitespace inside)`}},
		{name: "no-break space inside", src: "database:\u00a0startup", wantErr: []string{`1: "database:\u00a0startup" is not module:function (whitespace inside)`}},
		{name: "dash in module", src: "my-db:startup", wantErr: []string{`1: "my-db:startup" is not module:function (bad module name "my-db")`}},
		{name: "empty module part", src: "trembling..session:inbound", wantErr: []string{`1: "trembling..session:inbound" is not module:function (bad module name "trembling..session")`}},
		{name: "leading dot", src: ".db:startup", wantErr: []string{`1: ".db:startup" is not module:function (bad module name ".db")`}},
		{name: "trailing dot", src: "db.:startup", wantErr: []string{`1: "db.:startup" is not module:function (bad module name "db.")`}},
		{name: "module starts with a digit", src: "1db:startup", wantErr: []string{`1: "1db:startup" is not module:function (bad module name "1db")`}},
		{name: "dotted function", src: "db:start.up", wantErr: []string{`1: "db:start.up" is not module:function (bad function name "start.up")`}},
		{name: "function is a number", src: "db:9", wantErr: []string{`1: "db:9" is not module:function (bad function name "9")`}},
		{name: "call syntax", src: "db:startup()", wantErr: []string{`1: "db:startup()" is not module:function (bad function name "startup()")`}},
		{name: "non-ASCII", src: "café:startup", wantErr: []string{`1: "café:startup" is not module:function (bad module name "café")`}},
		{name: "invalid UTF-8", src: "db:\xffstart", wantErr: []string{`1: "db:\xffstart" is not module:function (bad function name "\xffstart")`}},
		{name: "lone CR does not end a line", src: "a:b\rc:d", wantErr: []string{`1: "a:b\rc:d" is not module:function (more than one colon)`}},
		{
			name: "every syntax error, in line order",
			src:  "ok:one\ndatabase\n^L\na:b:c x:y\n\n:f # comment\nok:two\nm: f ^L bad\n",
			wantErr: []string{
				`2: "database" is not module:function (no colon)`,
				`4: "a:b:c x:y" is not module:function (more than one colon)`,
				`6: ":f" is not module:function (empty module)`,
				`8: "m: f" is not module:function (whitespace inside)`,
				`8: "bad" is not module:function (no colon)`,
			},
		},
		{
			name: "syntax errors and too many sections",
			src:  "bad\n\f\f\f\f\f\fx:y\nworse\n",
			wantErr: []string{
				`1: "bad" is not module:function (no colon)`,
				`2: more than six sections ("x:y" follows the page break that ends shutdown)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHooksConf("hooks.conf", []byte(tt.src))
			var wantErr []string
			for _, e := range tt.wantErr {
				wantErr = append(wantErr, "hooks.conf:"+e)
			}
			if diff := cmp.Diff(wantErr, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, hookLines(t, got)); diff != "" {
				t.Errorf("hooks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveHooks(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		reg     *Registry   // nil: testHooksRegistry
		mods    hookModules // nil: testHookModules
		noMods  bool        // pass a nil hookModules
		want    []string
		wantErr []string // without the "hooks.conf:" prefix
	}{
		{
			name: "built-in and Starlark hooks",
			src:  "database:startup\ncache:startup\n^L\ntrembling.session:inbound\ntrembling.auth:inbound\ntiming:request\n^L^L^L\ntiming:request\nlog:request",
			want: []string{
				"startup 1 database:startup", "startup 2 cache:startup (builtin)",
				"inbound_early 4 trembling.session:inbound (builtin)",
				"inbound_early 5 trembling.auth:inbound (builtin)",
				"inbound_early 6 timing:request (builtin)",
				"outbound_late 8 timing:request (builtin)",
				"outbound_late 9 log:request",
			},
		},
		{
			name: "Starlark hooks run in any phase, and a hook may be in several sections",
			src:  "log:request\n\flog:request\n\flog:request\n\flog:request\n\flog:request\n\flog:request",
			want: []string{
				"startup 1 log:request", "inbound_early 2 log:request", "inbound_late 3 log:request",
				"outbound_early 4 log:request", "outbound_late 5 log:request", "shutdown 6 log:request",
			},
		},
		{
			name: "after, in an earlier section",
			src:  "^L\ntrembling.session:inbound\n^L\ntrembling.auth:inbound",
			want: []string{"inbound_early 2 trembling.session:inbound (builtin)", "inbound_late 4 trembling.auth:inbound (builtin)"},
		},
		{
			name:    "unknown built-in hook, a typo in the module",
			src:     "^L\ntrembling.sessoin:inbound",
			wantErr: []string{`2: unknown hook "trembling.sessoin:inbound" (did you mean "trembling.session:inbound"?)`},
		},
		{
			name:    "unknown built-in hook, a typo in the function",
			src:     "^L^L^L^L\ntrembling.session:outbond",
			wantErr: []string{`2: unknown hook "trembling.session:outbond" (did you mean "trembling.session:outbound"?)`},
		},
		{
			name:    "unknown function of a registered module",
			src:     "trembling.session:startup",
			wantErr: []string{`1: unknown hook "trembling.session:startup" (registered: trembling.session:inbound, trembling.session:outbound)`},
		},
		{
			name:    "unknown function of a registered undotted module",
			src:     "timing:startup",
			wantErr: []string{`1: unknown hook "timing:startup" (registered: timing:request)`},
		},
		{
			name:    "unknown dotted module",
			src:     "hooks.db:startup",
			wantErr: []string{`1: unknown hook "hooks.db:startup" (registered: cache:startup, timing:request, trembling.auth:inbound, trembling.session:inbound, trembling.session:outbound)`},
		},
		{
			name:    "a short name is not taken for a typo",
			src:     "x.y:z",
			wantErr: []string{`1: unknown hook "x.y:z" (registered: cache:startup, timing:request, trembling.auth:inbound, trembling.session:inbound, trembling.session:outbound)`},
		},
		{
			name:    "no built-in hooks registered",
			src:     "^L\ntrembling.session:inbound",
			reg:     NewRegistry(),
			wantErr: []string{`2: unknown hook "trembling.session:inbound" (no built-in hooks are registered)`},
		},
		{
			name:    "missing .star file",
			src:     "databse:startup",
			wantErr: []string{`1: databse:startup: www/.aspen/databse.star: file does not exist`},
		},
		{
			name:    "missing function",
			src:     "^L^L^L^L^L\ndatabase:shutdown",
			wantErr: []string{`2: database:shutdown: www/.aspen/database.star has no function "shutdown"`},
		},
		{
			name:    "not a function",
			src:     "database:title",
			wantErr: []string{`1: database:title: www/.aspen/database.star: title is a string, not a function`},
		},
		{
			name:    "module fails to load",
			src:     "broken:startup",
			wantErr: []string{`1: broken:startup: www/.aspen/broken.star:3:1: got '=', want expression`},
		},
		{
			name:    "a nil callable without an error",
			src:     "database:startup",
			mods:    nilFuncModules{},
			wantErr: []string{`1: database:startup: no function`},
		},
		{
			name:    "no Starlark hook modules",
			src:     "database:startup\ncache:startup",
			noMods:  true,
			wantErr: []string{`1: unknown hook "database:startup" (it is not registered and there are no Starlark hook modules)`},
		},
		{
			name:    "outbound hook in an inbound section",
			src:     "^L\ntrembling.session:outbound",
			wantErr: []string{`2: trembling.session:outbound cannot run in inbound_early (it serves outbound_early, outbound_late)`},
		},
		{
			name:    "inbound hook in startup",
			src:     "trembling.session:inbound",
			wantErr: []string{`1: trembling.session:inbound cannot run in startup (it serves inbound_early, inbound_late)`},
		},
		{
			name:    "request hook in shutdown",
			src:     "^L^L^L^L^L timing:request",
			wantErr: []string{`1: timing:request cannot run in shutdown (it serves inbound_early, inbound_late, outbound_early, outbound_late)`},
		},
		{
			name:    "startup hook in outbound_late",
			src:     "^L^L^L^L cache:startup",
			wantErr: []string{`1: cache:startup cannot run in outbound_late (it serves startup)`},
		},
		{
			name:    "auth before session in one section",
			src:     "^L\ntrembling.auth:inbound\ntrembling.session:inbound",
			wantErr: []string{`2: trembling.auth:inbound must come after trembling.session:inbound`},
		},
		{
			name:    "auth in an earlier section than session",
			src:     "^L\ntrembling.auth:inbound\n^L\ntrembling.session:inbound",
			wantErr: []string{`2: trembling.auth:inbound must come after trembling.session:inbound`},
		},
		{
			name:    "auth without session",
			src:     "^L\ntrembling.auth:inbound\n^L^L^L\ntrembling.session:outbound",
			wantErr: []string{`2: trembling.auth:inbound must come after trembling.session:inbound, which hooks.conf does not list: add it in inbound_early or inbound_late, before this line`},
		},
		{
			// The misplaced session hook is reported; the auth hook after
			// it is not reported again.
			name:    "one mistake, one error",
			src:     "trembling.session:inbound\n^L\ntrembling.auth:inbound",
			wantErr: []string{`1: trembling.session:inbound cannot run in startup (it serves inbound_early, inbound_late)`},
		},
		{
			name:    "built-in hook twice in one section",
			src:     "^L\ntrembling.session:inbound\n# again\ntrembling.session:inbound",
			wantErr: []string{`4: trembling.session:inbound is listed twice in inbound_early (first on line 2)`},
		},
		{
			name:    "Starlark hook twice in one section",
			src:     "database:startup\ndatabase:startup",
			wantErr: []string{`2: database:startup is listed twice in startup (first on line 1)`},
		},
		{
			name: "every error, in line order",
			src: "trembling.session:inbound\ndatabase:startup\nnosuch:startup\n^L\n" +
				"trembling.auth:inbound\ntrembling.session:inbound\ntrembling.auth:inbound\n" +
				"trembling.session:outbound\ntiming:nope\n^L^L^L^L\ndatabase:startup\ncache:startup\n",
			wantErr: []string{
				`1: trembling.session:inbound cannot run in startup (it serves inbound_early, inbound_late)`,
				`3: nosuch:startup: www/.aspen/nosuch.star: file does not exist`,
				`7: trembling.auth:inbound is listed twice in inbound_early (first on line 5)`,
				`8: trembling.session:outbound cannot run in inbound_early (it serves outbound_early, outbound_late)`,
				`9: unknown hook "timing:nope" (registered: timing:request)`,
				`12: cache:startup cannot run in shutdown (it serves startup)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := parseHooksConf("hooks.conf", []byte(tt.src))
			if err != nil {
				t.Fatalf("parseHooksConf: %v", err)
			}
			reg := tt.reg
			if reg == nil {
				reg = testHooksRegistry(t)
			}
			var mods hookModules = testHookModules()
			if tt.mods != nil {
				mods = tt.mods
			}
			if tt.noMods {
				mods = nil
			}
			got, err := reg.resolve("hooks.conf", parsed, mods)
			var wantErr []string
			for _, e := range tt.wantErr {
				wantErr = append(wantErr, "hooks.conf:"+e)
			}
			if diff := cmp.Diff(wantErr, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, hookLines(t, got)); diff != "" {
				t.Errorf("hooks (-want +got):\n%s", diff)
			}
		})
	}
}

// nilFuncModules returns neither a function nor an error.
type nilFuncModules struct{}

func (nilFuncModules) hookFunc(string, string) (starlark.Callable, error) { return nil, nil }

func TestResolveHooksKeepsCauses(t *testing.T) {
	parsed, err := parseHooksConf("hooks.conf", []byte("nosuch:startup\nbroken:startup\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = testHooksRegistry(t).resolve("hooks.conf", parsed, testHookModules())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false, want true", err)
	}
	if !errors.Is(err, errBrokenModule) {
		t.Errorf("errors.Is(%v, errBrokenModule) = false, want true", err)
	}
}

func TestResolveHooksNilRegistry(t *testing.T) {
	parsed, err := parseHooksConf("hooks.conf", []byte("database:startup\n\ftrembling.session:inbound\n"))
	if err != nil {
		t.Fatal(err)
	}
	var reg *Registry
	_, err = reg.resolve("hooks.conf", parsed, testHookModules())
	want := []string{`hooks.conf:2: unknown hook "trembling.session:inbound" (no built-in hooks are registered)`}
	if diff := cmp.Diff(want, errLines(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadHooksConf(t *testing.T) {
	reg := testHooksRegistry(t)
	mods := testHookModules()

	t.Run("trembling", func(t *testing.T) {
		got, err := loadHooksConf("testdata/hooksconf/trembling.conf", true, reg, mods)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tremblingHooks, hookLines(t, got)); diff != "" {
			t.Errorf("hooks (-want +got):\n%s", diff)
		}
	})

	t.Run("syntax and resolve errors together", func(t *testing.T) {
		const file = "testdata/hooksconf/errors.conf"
		got, err := loadHooksConf(file, true, reg, mods)
		want := []string{
			file + `:4: "database" is not module:function (no colon)`,
			file + `:5: unknown hook "trembling.sessoin:inbound" (did you mean "trembling.session:inbound"?)`,
			file + `:7: trembling.auth:inbound must come after trembling.session:inbound`,
			file + `:9: trembling.session:outbound cannot run in inbound_early (it serves outbound_early, outbound_late)`,
			file + `:10: "a:b:c" is not module:function (more than one colon)`,
			file + `:11: nosuch:hook: www/.aspen/nosuch.star: file does not exist`,
			file + `:12: trembling.session:inbound is listed twice in inbound_early (first on line 8)`,
			file + `:19: more than six sections ("stray:hook" follows the page break that ends shutdown)`,
		}
		if diff := cmp.Diff(want, errLines(err)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
		if n := len(hookLines(t, got)); n != 0 {
			t.Errorf("got %d hooks with an error, want none", n)
		}
	})

	missing := filepath.Join(t.TempDir(), "hooks.conf")
	t.Run("missing file is no hooks", func(t *testing.T) {
		got, err := loadHooksConf(missing, false, reg, mods)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(hookLines(t, got)); n != 0 {
			t.Errorf("got %d hooks, want none", n)
		}
	})
	t.Run("missing file that must exist", func(t *testing.T) {
		_, err := loadHooksConf(missing, true, reg, mods)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("err = %q, want it to name %s", err, missing)
		}
	})
	t.Run("a directory", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := loadHooksConf(dir, false, reg, mods); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("err = %v, want a read error naming %s", err, dir)
		}
	})
}

func TestHooksEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"trembling.sessoin:inbound", "trembling.session:inbound", 2},
		{"trembling.auth:inbond", "trembling.auth:inbound", 1},
		{"flaw", "lawn", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

// confErrorRE matches one error of a hooks.conf file named hooks.conf.
var confErrorRE = regexp.MustCompile(`^hooks\.conf:([1-9][0-9]*): \S`)

// checkConfErrors checks that err is a list of "hooks.conf:line: reason"
// messages whose lines are in [1, lines] and in order.
func checkConfErrors(t *testing.T, err error, lines int) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %q is not a joined list", err)
	}
	prev := 0
	for _, e := range joined.Unwrap() {
		m := confErrorRE.FindStringSubmatch(e.Error())
		if m == nil {
			t.Fatalf("error %q is not hooks.conf:line: reason", e)
		}
		n, _ := strconv.Atoi(m[1])
		if n > lines || n < prev {
			t.Fatalf("error %q: line %d out of order or past the end (%d lines, previous %d)", e, n, lines, prev)
		}
		prev = n
	}
}

func FuzzParseHooksConf(f *testing.F) {
	files, err := filepath.Glob("testdata/hooksconf/*.conf")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "a:b", "a:b:c", "\f\f\f\f\f\fx", "^^LL", "# ^L a.b:c\r\n", utf8BOM + "x:y#z",
		"trembling.auth:inbound\n^Ltrembling.session:outbound", ":\n:", "a.b.c:d\u00a0e",
	} {
		f.Add([]byte(s))
	}
	reg := testHooksRegistry(f)
	mods := testHookModules()
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte("\n")) + 1
		got, err := parseHooksConf("hooks.conf", src)
		if err != nil {
			checkConfErrors(t, err, lines)
			if n := len(hookLines(t, got)); n != 0 {
				t.Fatalf("%d hooks returned with an error", n)
			}
		}
		prev := 0
		for _, e := range slices.Concat(got[:]...) {
			if e.Line < prev || e.Line > lines {
				t.Fatalf("%s: line %d out of order or past the end (%d lines)", e.Name(), e.Line, lines)
			}
			prev = e.Line
			if m, fn, problem := splitHookName(e.Name()); problem != "" || m != e.Module || fn != e.Function {
				t.Fatalf("entry %q: module %q function %q is not a valid hook name (%s)", e.Name(), e.Module, e.Function, problem)
			}
			if e.Builtin != nil {
				t.Fatalf("%s: parse set Builtin", e.Name())
			}
		}

		// "^L" is only another spelling of a form feed, and CRLF of LF.
		for _, alt := range [][]byte{
			bytes.ReplaceAll(src, []byte("^L"), []byte("\f")),
			bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n")),
		} {
			altGot, altErr := parseHooksConf("hooks.conf", alt)
			if diff := cmp.Diff(errLines(err), errLines(altErr)); diff != "" {
				t.Fatalf("errors differ for %q (-orig +alt):\n%s", alt, diff)
			}
			if diff := cmp.Diff(hookLines(t, got), hookLines(t, altGot)); diff != "" {
				t.Fatalf("hooks differ for %q (-orig +alt):\n%s", alt, diff)
			}
		}

		if err == nil {
			if _, err := reg.resolve("hooks.conf", got, mods); err != nil {
				checkConfErrors(t, err, lines)
			}
		}
	})
}
