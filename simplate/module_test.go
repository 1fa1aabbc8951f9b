package simplate

import (
	"errors"
	"io/fs"
	"testing"

	"go.starlark.net/starlark"
)

func TestModules(t *testing.T) {
	files := map[string]string{
		".aspen/helpers.star": "def shout(s):\n    return s.upper() + '!'\nitems = [1]\nencoded = json.encode({'a': 1})\nname = site\n",
		".aspen/outer.star":   "load('helpers.star', 'shout')\ndef twice(s):\n    return shout(s) + shout(s)\n",
		".aspen/a.star":       "load('b.star', 'b')\na = 1\n",
		".aspen/b.star":       "load('a.star', 'a')\nb = 1\n",
		".aspen/self.star":    "load('self.star', 'x')\nx = 1\n",
		".aspen/broken.star":  "x = 1\n\ny = undefined\n",
		"per-request.spt":     "load('helpers.star', 'shout')\nx = shout(request)\n^L\n{{ .x }}",
		"once.spt":            "load('helpers.star', 'shout', 'encoded', 'name')\nx = shout('once')\n^L\ny = shout(request)\n^L\n{{ .x }} {{ .y }} {{ .encoded }} {{ .name }}",
		"nested.spt":          "load('outer.star', 'twice')\ny = twice('a')\n^L\n{{ .y }}",
		"mutate.spt":          "load('helpers.star', 'items')\nitems.append(2)\n^L\n",
		"missing.spt":         "\n^L\nload('nope.star', 'x')\n^L\n",
		"dotdot.spt":          "load('../secret.star', 'x')\n^L\n",
		"subdir.spt":          "load('sub/x.star', 'x')\n^L\n",
		"notstar.spt":         "load('x.py', 'x')\n^L\n",
		"cycle.spt":           "load('a.star', 'a')\n^L\n",
		"self.spt":            "load('self.star', 'x')\n^L\n",
		"broken.spt":          "load('broken.star', 'x')\n^L\n",
		"noname.spt":          "load('helpers.star', 'nothere')\n^L\n",
	}
	l := NewLoader(Options{
		FS:       mapFS(files),
		Builtins: starlark.StringDict{"site": starlark.String("Todoy")},
		Globals:  []string{"request"},
		RootName: "www",
	})
	vars := starlark.StringDict{"request": starlark.String("hey")}
	ok := []struct{ name, want string }{
		{"per-request.spt", "HEY!"},
		{"once.spt", `ONCE! HEY! {"a":1} Todoy`},
		{"nested.spt", "A!A!"},
	}
	for _, tt := range ok {
		if got := run(t, l, tt.name, vars); got != tt.want {
			t.Errorf("%s = %q; want %q", tt.name, got, tt.want)
		}
	}
	bad := []struct{ name, want string }{
		{"mutate.spt", "www/mutate.spt:2: append: cannot append to frozen list"},
		{"missing.spt", "www/missing.spt:3: cannot load nope.star: www/.aspen/nope.star: file does not exist"},
		{"dotdot.spt", `www/dotdot.spt:1: cannot load ../secret.star: module name "../secret.star": modules are files directly in .aspen; no directories, no ".."`},
		{"subdir.spt", `www/subdir.spt:1: cannot load sub/x.star: module name "sub/x.star": modules are files directly in .aspen; no directories, no ".."`},
		{"notstar.spt", `www/notstar.spt:1: cannot load x.py: module name "x.py": want a file name ending in .star, such as "helpers.star"`},
		{"cycle.spt", "www/cycle.spt:1: cannot load a.star: www/.aspen/a.star:1: cannot load b.star: www/.aspen/b.star:1: cannot load a.star: load cycle: a.star → b.star → a.star"},
		{"self.spt", "www/self.spt:1: cannot load self.star: www/.aspen/self.star:1: cannot load self.star: load cycle: self.star → self.star"},
		{"broken.spt", "www/broken.spt:1: cannot load broken.star: www/.aspen/broken.star:3: undefined: undefined"},
		{"noname.spt", "www/noname.spt:1: load: name nothere not found in module helpers.star"},
	}
	for _, tt := range bad {
		s, err := l.Load(tt.name)
		if err == nil {
			_, err = s.Run(l.NewThread(tt.name), vars)
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}

	g, err := l.Module("helpers.star")
	if err != nil || !g.Has("shout") || !g.Has("items") {
		t.Errorf("Module(helpers.star) = %v, %v", g.Keys(), err)
	}
	if _, err := l.Module("nope.star"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Module(nope.star) error = %v; want fs.ErrNotExist", err)
	}
	if _, err := l.Module("../x.star"); err == nil {
		t.Errorf("Module(../x.star) succeeded")
	}
	if _, err := l.Module("broken.star"); err == nil || err.Error() != "www/.aspen/broken.star:3: undefined: undefined" {
		t.Errorf("Module(broken.star) error = %v", err)
	}
}
