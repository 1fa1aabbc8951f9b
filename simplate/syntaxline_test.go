package simplate

import (
	"testing"
	"testing/fstest"
)

// TestSyntaxErrorLine: a syntax error is reported at the line of the
// mistake, in the first and second page and in a module, also where
// Starlark notices it only at the start of the next line.
func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"missing colon", "a.html.spt", "x = 1\nif x\n    y = 2\n[---]\n{{ .x }}\n", "www/a.html.spt:2: got newline, want ':'"},
		{"missing colon, blank line after", "a.html.spt", "x = 1\nif x\n\n    y = 2\n[---]\n{{ .x }}\n", "www/a.html.spt:2: got newline, want ':'"},
		{"missing colon, comment after", "a.html.spt", "if True  # go\n# more\n    y = 2\n[---]\n{{ .y }}\n", "www/a.html.spt:1: got newline, want ':'"},
		{"unclosed bracket at the end of the page", "a.html.spt", "x = [1,\n2\n\n[---]\n{{ .x }}\n", "www/a.html.spt:2: got end of file, want ']'"},
		{"second of three pages", "a.html.spt", "A = 1\n[---]\nb = 2\nfor i in [1]\n    b += i\n[---]\n{{ .b }}\n", "www/a.html.spt:4: got newline, want ':'"},
		{"once-page", "a.html.spt", "A = 1\nwhile A\n    A = 0\n[---]\nb = 2\n[---]\n{{ .b }}\n", "www/a.html.spt:2: got newline, want ':'"},
		{"JSON simplate", "a.json.spt", "x = 1\nif x\n    y = 2\nresponse.body = x\n", "www/a.json.spt:2: got newline, want ':'"},
		{"reported where it is", "a.html.spt", "x = 1 +\ny = 2\n[---]\n{{ .x }}\n", "www/a.html.spt:1: got newline, want primary expression"},
		{"module", ".aspen/m.star", "def f(x)\n    return x\n", "www/.aspen/m.star:1: got newline, want ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLoader(Options{
				FS:       fstest.MapFS{tt.file: {Data: []byte(tt.src)}},
				Globals:  []string{"request", "response", "website"},
				RootName: "www",
			})
			var err error
			if tt.file == ".aspen/m.star" {
				_, err = l.Module("m.star")
			} else {
				_, err = l.Load(tt.file)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}
