package aspengo

import (
	"errors"
	"testing"
	"testing/fstest"
)

func TestIsBackupName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"login.html.spt~", true},
		{"login.html.spt.bak", true},
		{"login.html.spt.BAK", true},
		{"login.html.spt.orig", true},
		{"login.html.spt.swp", true},
		{"login.html.spt.tmp", true},
		{"login.html.spt.Tmp", true},
		{"#login.html.spt#", true},
		{"~", true},
		{"##", true},
		{"login.html.spt", false},
		{"login.html", false},
		{"#", false},
		{"#hash", false},
		{"hash#", false},
		{"~home", false},
		{"bak", false},
		{"x.bakery", false},
		{"tmp", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isBackupName(tt.name); got != tt.want {
			t.Errorf("isBackupName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDispatchBackups checks that editor backups of a page are 404 however
// they are asked for, while the page itself is served.
func TestDispatchBackups(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	fsys := fstest.MapFS{
		"login.html.spt":           file("page"),
		"login.html.spt~":          file("source"),
		"login.html.spt.bak":       file("source"),
		"login.html.spt.orig":      file("source"),
		"login.html.spt.swp":       file("source"),
		"login.html.spt.tmp":       file("source"),
		"#login.html.spt#":         file("source"),
		"notes.txt~":               file("source"),
		"notes.txt.BAK":            file("source"),
		"old~/index.html":          file("in a backup directory"),
		"old.bak/index.html":       file("in a backup directory"),
		"v/%slug~":                 file("backup of a virtual file"),
		"v/%slug.spt.orig":         file("backup of a virtual simplate"),
		"w/%slug.html.spt":         file("virtual page"),
		"w/%slug.html.spt.swp":     file("backup of a virtual page"),
		"d/%x.bak/index.html":      file("backup of a virtual directory"),
		"login2.html.spt~":         file("backup whose page is gone"),
		"#%slug.spt#":              file("autosave of a virtual file"),
		"plain/index.html":         file("index"),
		"plain/index.html.spt.tmp": file("temporary copy"),
	}
	tests := []struct {
		path string
		want string // resolved file; empty for 404
	}{
		{"/login.html", "login.html.spt"},
		{"/login.html.spt~", ""},
		{"/login.html.spt.bak", ""},
		{"/login.html.spt.orig", ""},
		{"/login.html.spt.swp", ""},
		{"/login.html.spt.tmp", ""},
		{"/#login.html.spt#", ""},
		{"/notes.txt~", ""},
		{"/notes.txt.bak", ""},
		{"/notes.txt.BAK", ""},
		{"/old~/", ""},
		{"/old~/index.html", ""},
		{"/old.bak/index.html", ""},
		{"/v/anything", ""},
		{"/v/anything.orig", ""},
		{"/w/hello.html", "w/%slug.html.spt"},
		{"/w/hello.html.spt.swp", ""},
		{"/d/x.bak/", ""},
		{"/d/x/", ""},
		{"/login2.html", ""},
		{"/plain/", "plain/index.html"},
		{"/plain/index.html.spt.tmp", ""},
	}
	for _, tt := range tests {
		res, err := dispatch(fsys, tt.path)
		switch {
		case tt.want == "" && !errors.Is(err, errNotFound):
			t.Errorf("dispatch(%q) = %+v, %v; want 404", tt.path, res, err)
		case tt.want != "" && (err != nil || res.Path != tt.want):
			t.Errorf("dispatch(%q) = %+v, %v; want %s", tt.path, res, err, tt.want)
		}
	}
}
