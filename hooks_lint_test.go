package aspengo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
)

// pairedRegistry is testHooksRegistry with the session hooks declared as
// a pair, as trembling declares them.
func pairedRegistry(t testing.TB) *Registry {
	t.Helper()
	req := func(*Request) error { return nil }
	r := NewRegistry()
	for name, h := range map[string]Hook{
		"trembling.session:inbound":  {Inbound: req, Requires: []string{"trembling.session:outbound"}},
		"trembling.session:outbound": {Outbound: req, Requires: []string{"trembling.session:inbound"}},
		"trembling.auth:inbound":     {Inbound: req, After: []string{"trembling.session:inbound"}, Requires: []string{"trembling.session:outbound"}},
	} {
		if err := r.Hook(name, h); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestResolveRequires: a hook listed without the hooks it requires is
// refused at the line of the hook, saying where the missing one goes.
func TestResolveRequires(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr []string
	}{
		{name: "both halves", src: "^L\ntrembling.session:inbound\ntrembling.auth:inbound\n^L^L^L\ntrembling.session:outbound"},
		{
			name:    "inbound without outbound",
			src:     "^L\ntrembling.session:inbound\n",
			wantErr: []string{`2: trembling.session:inbound needs trembling.session:outbound, which hooks.conf does not list: add it in outbound_early or outbound_late`},
		},
		{
			name:    "outbound without inbound",
			src:     "^L^L^L^L\ntrembling.session:outbound\n",
			wantErr: []string{`2: trembling.session:outbound needs trembling.session:inbound, which hooks.conf does not list: add it in inbound_early or inbound_late`},
		},
		{
			name: "auth without sessions",
			src:  "^L\ntrembling.auth:inbound\n",
			wantErr: []string{
				`2: trembling.auth:inbound must come after trembling.session:inbound, which hooks.conf does not list: add it in inbound_early or inbound_late, before this line`,
				`2: trembling.auth:inbound needs trembling.session:outbound, which hooks.conf does not list: add it in outbound_early or outbound_late`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := parseHooksConf("hooks.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = pairedRegistry(t).resolve("hooks.conf", parsed, nil)
			var want []string
			for _, e := range tt.wantErr {
				want = append(want, "hooks.conf:"+e)
			}
			if diff := cmp.Diff(want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLintHooksConf: a comment naming a phase over another phase's
// section is reported; comments that name the section they head, or no
// phase, are not.
func TestLintHooksConf(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "trembling's README verbatim", src: "# Startup Hooks\ndatabase:startup\n\n^L\n# Inbound Early Hooks\ntrembling.session:inbound\n\n^L\n# Inbound Late Hooks\n\n^L\n# Outbound Early hooks\n\n^L\n# Outbound Late Hooks\ntrembling.session:outbound\n\n^L\n# Shutdown Hooks\n"},
		{name: "other comments", src: "# my hooks\n^L\n# load the session\n# outbound late is where it is saved\n"},
		{name: "snake case and form feeds", src: "# startup\n\f# inbound_early\n\f#inbound-late hook\n"},
		{
			name: "missing page break",
			src:  "# Startup Hooks\n^L\n# Inbound Early Hooks\n^L\n# Inbound Late Hooks\n^L\n# Outbound Early hooks\n\n# Outbound Late Hooks\ntrembling.session:outbound\n^L\n# Shutdown Hooks\n",
			want: []string{
				`hooks.conf:9: comment "# Outbound Late Hooks" heads section 4 (outbound_early), not outbound_late: a page break is missing or extra above it`,
				`hooks.conf:12: comment "# Shutdown Hooks" heads section 5 (outbound_late), not shutdown: a page break is missing or extra above it`,
			},
		},
		{
			name: "page break inside a comment",
			src:  "# Startup Hooks (end with ^L)\n# Inbound Early Hooks\n",
			want: []string{`hooks.conf:1: a page break inside a comment still ends the section; put it on a line of its own`},
		},
		{
			name: "extra page break",
			src:  "# Startup Hooks\n^L\n^L\n# Inbound Early Hooks\n",
			want: []string{`hooks.conf:4: comment "# Inbound Early Hooks" heads section 3 (inbound_late), not inbound_early: a page break is missing or extra above it`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range lintHooksConf("hooks.conf", []byte(tt.src)) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckBuiltinNeeds: Check reports a page that calls a builtin whose
// hooks hooks.conf does not list, at the line of the call; the same page
// in a site that lists them passes.
func TestCheckBuiltinNeeds(t *testing.T) {
	page := "x = 1\n\nlogin(request, 'a', 'b')\n[---]\n{{ .x }}\n"
	tests := []struct {
		name  string
		hooks string // "" for no hooks.conf
		want  []string
	}{
		{
			name:  "all hooks listed",
			hooks: "^L\ntrembling.session:inbound\ntrembling.auth:inbound\n^L^L^L\ntrembling.session:outbound\n",
		},
		{
			name: "no hooks.conf",
			want: []string{
				"/www/.aspen/helpers.star:5: login needs trembling.session:inbound, trembling.auth:inbound in hooks.conf, which does not list trembling.session:inbound, trembling.auth:inbound",
				"/www/login.html.spt:3: login needs trembling.session:inbound, trembling.auth:inbound in hooks.conf, which does not list trembling.session:inbound, trembling.auth:inbound",
			},
		},
		{
			name:  "auth missing",
			hooks: "^L\ntrembling.session:inbound\n^L^L^L\ntrembling.session:outbound\n",
			want: []string{
				"/www/.aspen/helpers.star:5: login needs trembling.session:inbound, trembling.auth:inbound in hooks.conf, which does not list trembling.auth:inbound",
				"/www/login.html.spt:3: login needs trembling.session:inbound, trembling.auth:inbound in hooks.conf, which does not list trembling.auth:inbound",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "www")
			files := map[string]string{
				"login.html.spt": page,
				"other.html.spt": "y = 2\n[---]\n{{ .y }}\n",
				// A module: its own login parameter is no use of the
				// builtin; the call on line 5 is.
				".aspen/helpers.star": "def shadow(login):\n    return login\n\ndef sign_in(request):\n    return login(request, 'a', 'b')\n",
			}
			if tt.hooks != "" {
				files[".aspen/hooks.conf"] = tt.hooks
			}
			for name, body := range files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			req := func(*Request) error { return nil }
			reg := NewRegistry()
			for name, h := range map[string]Hook{
				"trembling.session:inbound":  {Inbound: req},
				"trembling.session:outbound": {Outbound: req},
				"trembling.auth:inbound":     {Inbound: req},
			} {
				if err := reg.Hook(name, h); err != nil {
					t.Fatal(err)
				}
			}
			if err := reg.Builtin("login", starlark.NewBuiltin("login", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
				return starlark.True, nil
			})); err != nil {
				t.Fatal(err)
			}
			reg.BuiltinNeeds("login", "trembling.session:inbound", "trembling.auth:inbound")
			err := Check(Config{Root: root, Registry: reg})
			var got []string
			for _, l := range errLines(err) {
				got = append(got, strings.TrimPrefix(l, filepath.ToSlash(filepath.Dir(root))))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
