package simplate

import (
	"testing"
	texttemplate "text/template"
	tparse "text/template/parse"

	"github.com/google/go-cmp/cmp"
)

// TestAnalyzeTemplate checks what the analysis finds a template can read:
// names and fields where it can follow the data, everything (all) or a
// whole value where it cannot.
func TestAnalyzeTemplate(t *testing.T) {
	w := &fieldNeed{whole: true}
	f := func(fields ...string) *fieldNeed { return &fieldNeed{fields: fields} }
	tests := []struct {
		name string
		text string
		want *needs
	}{
		{"text only", `hello`, &needs{}},
		{"name", `{{ .title }}`, &needs{top: map[string]*fieldNeed{"title": w}}},
		{"field", `{{ .request.user.name }} {{ .request.method }}`, &needs{top: map[string]*fieldNeed{"request": f("method", "user")}}},
		{"field and whole", `{{ .request.method }}{{ .request }}`, &needs{top: map[string]*fieldNeed{"request": w}}},
		{"dollar", `{{ range .items }}{{ $.request.qs }}{{ end }}`, &needs{top: map[string]*fieldNeed{"items": w, "request": f("qs")}}},
		{"function args", `{{ if eq .request.method "GET" }}{{ len .list }}{{ end }}`, &needs{top: map[string]*fieldNeed{"request": f("method"), "list": w}}},
		{"pipeline", `{{ .request.user | printf "%v" }}`, &needs{top: map[string]*fieldNeed{"request": f("user")}}},
		{"with", `{{ with .request }}{{ .user }}{{ end }}`, &needs{top: map[string]*fieldNeed{"request": w}}},
		{"with else", `{{ with .a }}{{ .x }}{{ else }}{{ .b.c }}{{ end }}`, &needs{top: map[string]*fieldNeed{"a": w, "b": f("c")}}},
		{"range", `{{ range $i, $m := .request.messages }}{{ $m.text }}{{ .text }}{{ end }}`, &needs{top: map[string]*fieldNeed{"request": f("messages")}}},
		{"variable", `{{ $r := .request }}{{ $r.user }}`, &needs{top: map[string]*fieldNeed{"request": w}}},
		{"variable of root", `{{ $d := . }}{{ $d.x }}`, &needs{all: true}},
		{"dot", `{{ . }}`, &needs{all: true}},
		{"index of root", `{{ index . "request" }}`, &needs{all: true}},
		{"dollar alone", `{{ range .a }}{{ $ }}{{ end }}`, &needs{all: true}},
		{"template with dot", `{{ define "t" }}{{ .request.user }}{{ end }}{{ template "t" . }}`, &needs{top: map[string]*fieldNeed{"request": f("user")}}},
		{"template with a name", `{{ define "t" }}{{ .user }}{{ $.method }}{{ end }}{{ template "t" .request }}`, &needs{top: map[string]*fieldNeed{"request": f("method", "user")}}},
		{"template with a name, whole", `{{ define "t" }}{{ . }}{{ end }}{{ template "t" .request }}`, &needs{top: map[string]*fieldNeed{"request": w}}},
		{"template with a field", `{{ define "t" }}{{ .x }}{{ end }}{{ template "t" .request.user }}`, &needs{top: map[string]*fieldNeed{"request": f("user")}}},
		{"template with no data", `{{ define "t" }}{{ .x }}{{ end }}{{ template "t" }}`, &needs{}},
		{"recursive template", `{{ define "t" }}{{ .n }}{{ template "t" . }}{{ end }}{{ template "t" . }}`, &needs{top: map[string]*fieldNeed{"n": w}}},
		{"missing template", `{{ template "nope" . }}`, &needs{all: true}},
		{"block", `{{ block "b" . }}{{ .title }}{{ end }}`, &needs{top: map[string]*fieldNeed{"title": w}}},
		{"chain", `{{ (.request).user }}`, &needs{top: map[string]*fieldNeed{"request": w}}},
		{"parenthesised pipe", `{{ printf "%s" (.a.b) }}`, &needs{top: map[string]*fieldNeed{"a": f("b")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := texttemplate.New("page").Parse(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			trees := map[string]*tparse.Tree{}
			for _, x := range tm.Templates() {
				trees[x.Name()] = x.Tree
			}
			got := analyzeTemplate(trees, "page")
			if got.all && tt.want.all {
				return // the fields do not matter then
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(needs{}, fieldNeed{})); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}
