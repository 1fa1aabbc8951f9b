package simplate

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
)

func TestSplitPages(t *testing.T) {
	type pg struct {
		Text      string
		Line, Brk int
	}
	tests := []struct {
		name string
		src  string
		want []pg
	}{
		{"no break", "hello\n", []pg{{"hello\n", 1, 0}}},
		{"empty", "", []pg{{"", 1, 0}}},
		{"form feed line", "a = 1\n\f\n<p>\n", []pg{{"a = 1\n", 1, 0}, {"<p>\n", 3, 2}}},
		{"form feed with blanks", "a\n \f \nb", []pg{{"a\n ", 1, 0}, {"b", 3, 2}}},
		{"form feed mid-line", "a = 1\fb = 2\n", []pg{{"a = 1", 1, 0}, {"b = 2\n", 1, 1}}},
		{"form feed at end", "a\f", []pg{{"a", 1, 0}, {"", 1, 1}}},
		{"two form feeds one line", "a\fb\fc", []pg{{"a", 1, 0}, {"b", 1, 1}, {"c", 1, 1}}},
		{"caret L", "a\n^L\nb\n^L\nc", []pg{{"a\n", 1, 0}, {"b\n", 3, 2}, {"c", 5, 4}}},
		{"caret L with blanks", "a\n  ^L\t\nb", []pg{{"a\n", 1, 0}, {"b", 3, 2}}},
		{"caret L last line", "a\n^L", []pg{{"a\n", 1, 0}, {"", 2, 2}}},
		{"caret L inside a line is text", "x = '^L'\n/^Lorem/\n", []pg{{"x = '^L'\n/^Lorem/\n", 1, 0}}},
		{"dashes", "[---]\na\n[---] text/html\nb", []pg{{"", 1, 0}, {"a\n", 2, 1}, {"b", 4, 3}}},
		{"more dashes", "a\n[-------]\nb", []pg{{"a\n", 1, 0}, {"b", 3, 2}}},
		{"two dashes are text", "[--]\n", []pg{{"[--]\n", 1, 0}}},
		{"indented dashes are text", " [---]\n", []pg{{" [---]\n", 1, 0}}},
		{"dashes unclosed are text", "[---\n[---x]\n", []pg{{"[---\n[---x]\n", 1, 0}}},
		{"mixed", "o\n^L\nr\n\f\n[---]\nt", []pg{{"o\n", 1, 0}, {"r\n", 3, 2}, {"", 5, 4}, {"t", 6, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []pg
			for _, p := range splitPages(tt.src) {
				got = append(got, pg{p.text, p.line, p.brk})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitPages(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
			has, err := hasPageBreak(strings.NewReader(tt.src))
			if err != nil || has != (len(tt.want) > 1) {
				t.Errorf("hasPageBreak(%q) = %v, %v; want %v", tt.src, has, err, len(tt.want) > 1)
			}
		})
	}
}

func TestHasPageBreakLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	tests := []struct {
		src  string
		want bool
	}{
		{long + "\n" + long, false},
		{long + "\f", true},
		{long + "\n^L\n" + long, true},
		{long + "^L\n", false},       // ^L at the end of a long line is text
		{long + "\n[---]\r\n", true}, // CRLF
	}
	for i, tt := range tests {
		got, err := hasPageBreak(strings.NewReader(tt.src))
		if err != nil || got != tt.want {
			t.Errorf("case %d: hasPageBreak = %v, %v; want %v", i, got, err, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		name     string
		ct       string
		html     bool
		json     bool
		text     bool
		template bool
	}{
		{"foo.html.spt", "text/html; charset=utf-8", true, false, true, true},
		{"dir/index.html", "text/html; charset=utf-8", true, false, true, true},
		{"foo.spt", "text/plain; charset=utf-8", false, false, true, true},
		{"foo.json.spt", "application/json", false, true, true, false},
		{"foo.json", "application/json", false, true, true, false},
		{"foo.css.spt", "text/css; charset=utf-8", false, false, true, true},
		{"foo.png", "image/png", false, false, false, true},
		{"foo.unknownext", "application/octet-stream", false, false, false, true},
	}
	for _, tt := range tests {
		k := kindOf(tt.name)
		if k.contentType != tt.ct || k.html != tt.html || k.json != tt.json || k.text != tt.text {
			t.Errorf("kindOf(%q) = %+v; want ct %q html %v json %v text %v", tt.name, k, tt.ct, tt.html, tt.json, tt.text)
		}
	}
}

// TestPages checks which pages of a file play which role, through Load
// and Run: the once-page and per-request page each append to a trace.
func TestPages(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // body, or the JSON response, or the error
		wantPages int
	}{
		{"one.spt", "just {{ .v }}", "just V", 1},
		{"two.spt", "x = v + '2'\n^L\n{{ .x }}", "V2", 2},
		{"three.spt", "o = 'once'\n^L\nx = o + v\n^L\n{{ .o }}|{{ .x }}", "once|onceV", 3},
		{"formfeed.txt", "x = v\f{{ .x }}!", "V!", 2},
		{"dashes.html", "[---]\nx = v\n[---] text/html\n<b>{{ .x }}</b>", "<b>V</b>", 3},
		{"crlf.spt", "x = v\r\n^L\r\n{{ .x }}\r\n", "V\n", 2},
		{"one.json.spt", "response['body'] = v", "V", 1},
		{"two.json", "o = 'O'\n^L\nresponse['body'] = o + v", "OV", 2},
		{"four.spt", "a = 1\n^L\nb = 2\n^L\n{{ .b }}\n^L\nmore\n", "www/four.spt:6: page 4: too many pages: a simplate has at most 3 pages (Starlark run once, Starlark run per request, template)", 0},
		{"three.json.spt", "a = 1\n\f\nb = 2\n\f\nc = 3\n", "www/three.json.spt:4: page 3: too many pages: a JSON simplate has at most 2 pages (Starlark run once, Starlark run per request) and no template", 0},
	}
	fsys := fstest.MapFS{}
	for _, tt := range tests {
		fsys[tt.name] = &fstest.MapFile{Data: []byte(tt.src)}
	}
	l := NewLoader(Options{FS: fsys, Globals: []string{"v", "response"}, RootName: "www"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := l.Load(tt.name)
			if err != nil {
				if err.Error() != tt.want {
					t.Fatalf("Load error = %q; want %q", err, tt.want)
				}
				return
			}
			if s.Pages != tt.wantPages {
				t.Errorf("Pages = %d; want %d", s.Pages, tt.wantPages)
			}
			resp := starlark.NewDict(1)
			body, err := s.Run(l.NewThread(tt.name), starlark.StringDict{"v": starlark.String("V"), "response": resp})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := string(body)
			if s.JSON {
				if body != nil {
					t.Errorf("JSON simplate returned body %q", body)
				}
				b, _, _ := resp.Get(starlark.String("body"))
				got = string(b.(starlark.String))
			}
			if got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestNotSimplate(t *testing.T) {
	fsys := fstest.MapFS{
		"plain.html":        {Data: []byte("<p>no break ^L here</p>\n")},
		"image.png":         {Data: []byte("\x89PNG\f\n^L\n\x00\x01")},
		"data.bin":          {Data: []byte("a\n\f\nb")},
		"script.js":         {Data: []byte("if (/^L/.test(s)) {}\n")},
		"dir/index.html":    {Data: []byte("<p>hi</p>")},
		"dynamic.html":      {Data: []byte("x = 1\n^L\n{{ .x }}")},
		"spt-no-break.spt":  {Data: []byte("plain")},
		"styles.css":        {Data: []byte("c = 'red'\n[---]\np { color: {{ .c }} }")},
		"data.json":         {Data: []byte(`{"a": 1}`)},
		"dynamic-data.json": {Data: []byte("\f\nresponse = 1")},
	}
	l := NewLoader(Options{FS: fsys})
	tests := []struct {
		name string
		want error // nil: a simplate
	}{
		{"plain.html", ErrNotSimplate},
		{"image.png", ErrNotSimplate},
		{"data.bin", ErrNotSimplate},
		{"script.js", ErrNotSimplate},
		{"dir", ErrNotSimplate},
		{"data.json", ErrNotSimplate},
		{"missing.html", fs.ErrNotExist},
		{"dynamic.html", nil},
		{"spt-no-break.spt", nil},
		{"styles.css", nil},
		{"dynamic-data.json", nil},
	}
	for _, tt := range tests {
		for range 2 { // the second time from the cache
			s, err := l.Load(tt.name)
			if tt.want == nil {
				if err != nil || s == nil {
					t.Errorf("Load(%q) = %v, %v; want a simplate", tt.name, s, err)
				}
				continue
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Load(%q) error = %v; want %v", tt.name, err, tt.want)
			}
		}
	}
	if _, err := l.Load("../x.spt"); err == nil {
		t.Errorf("Load(../x.spt) succeeded")
	}
}

// FuzzParse checks that splitting and parsing never panic, that pages
// cover the source in order with correct line numbers, that the streaming
// detector agrees with the splitter, and that compiling the pages (without
// running them) never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "a\n^L\nb", "x = 1\n\f\n{{ .x }}", "[---]\n[---] text/html\n", "a\fb\fc\fd",
		"o = 1\r\n^L\r\nr = o\r\n^L\r\n{{ define \"x\" }}{{ end }}{{ .r }}",
		" ^L \n\f \n[----]x\n", "{{", "def f(:\n^L\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, src string, json bool) {
		pages := splitPages(src)
		prevLine, prevEnd := 0, 0
		for i, p := range pages {
			if p.offset < prevEnd || p.offset+len(p.text) > len(src) || src[p.offset:p.offset+len(p.text)] != p.text {
				t.Fatalf("page %d does not lie in order within the source", i)
			}
			if want := 1 + strings.Count(src[:p.offset], "\n"); p.line != want {
				t.Fatalf("page %d: line %d; want %d", i, p.line, want)
			}
			if p.line < prevLine || (i > 0 && (p.brk < prevLine || p.brk > p.line)) {
				t.Fatalf("page %d: line %d, break %d out of order", i, p.line, p.brk)
			}
			if strings.ContainsRune(p.text, '\f') {
				t.Fatalf("page %d holds a form feed", i)
			}
			prevLine, prevEnd = p.line, p.offset+len(p.text)
		}
		if has, _ := hasPageBreak(strings.NewReader(src)); has != (len(pages) > 1) {
			t.Fatalf("hasPageBreak = %v with %d pages", has, len(pages))
		}
		name := "f.html.spt"
		if json {
			name = "f.json.spt"
		}
		lay, err := parse(name, kindOf(name), []byte(src))
		if err != nil {
			return
		}
		for _, p := range []*page{lay.once, lay.request} {
			if p != nil {
				_, _, _ = starlark.SourceProgramOptions(pageOptions, name, padded(p), func(string) bool { return true })
			}
		}
		if lay.template != nil {
			l := NewLoader(Options{FS: fstest.MapFS{}})
			s := &Simplate{Name: name, file: name}
			_ = l.compilePages(s, layout{template: lay.template}, &version{tpl: l.templates()})
		}
	})
}
