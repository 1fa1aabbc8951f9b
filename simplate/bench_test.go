package simplate

import (
	"testing"

	"go.starlark.net/starlark"
)

const benchBase = `<!DOCTYPE html>
<html><head><title>{{ block "title" . }}Todoy{{ end }}</title></head>
<body>
<nav>{{ if .request.user }}Signed in as {{ .request.user.username }}{{ end }}</nav>
{{ range .request.messages }}<p class="message">{{ .text }}</p>{{ end }}
<main>{{ block "content" . }}{{ end }}</main>
</body></html>
`

func benchLoader(b *testing.B, files map[string]string) *Loader {
	b.Helper()
	files[".aspen/base.html"] = benchBase
	return NewLoader(Options{FS: mapFS(files), Globals: []string{"request", "response", "website"}})
}

func benchRun(b *testing.B, l *Loader, name string) {
	s, err := l.Load(name)
	if err != nil {
		b.Fatal(err)
	}
	vars := starlark.StringDict{
		"request":  newRequest("alice", "Saved.", "Welcome back."),
		"response": starlark.NewDict(0),
		"website":  starlark.String("site"),
	}
	if _, err := s.Run(l.NewThread(name), vars); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Run(l.NewThread(name), vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunTemplateOnly runs a one-page simplate that uses the shared
// layout: the cost is html/template's.
func BenchmarkRunTemplateOnly(b *testing.B) {
	l := benchLoader(b, map[string]string{
		"about.html.spt": `{{ define "title" }}About{{ end }}{{ define "content" }}<h1>About</h1><p>Hello {{ .request.user.username }}.</p>{{ end }}{{ template "base.html" . }}`,
	})
	benchRun(b, l, "about.html.spt")
}

// BenchmarkRun3Pages runs a three-page simplate with a little Starlark per
// request.
func BenchmarkRun3Pages(b *testing.B) {
	l := benchLoader(b, map[string]string{
		"todos.html.spt": `LEVELS = ["low", "normal", "high"]
^L
todos = []
for i in range(10):
    todos.append({"title": "Task %d" % i, "done": i % 3 == 0, "level": LEVELS[i % 3]})
open_count = len([t for t in todos if not t["done"]])
^L
{{ define "title" }}Todos{{ end }}
{{ define "content" }}<h1>{{ .open_count }} open</h1>
<ul>{{ range .todos }}<li class="{{ .level }}">{{ if .done }}<s>{{ .title }}</s>{{ else }}{{ .title }}{{ end }}</li>{{ end }}</ul>{{ end }}
{{ template "base.html" . }}`,
	})
	benchRun(b, l, "todos.html.spt")
}

// BenchmarkLoadCached measures Load of a compiled simplate on an OS file
// system: the change checks (stat of the file, .aspen and its templates).
func BenchmarkLoadCached(b *testing.B) {
	s := newSite(b, map[string]string{
		".aspen/base.html": benchBase,
		".aspen/nav.html":  "<nav></nav>",
		"a.html.spt":       `{{ template "base.html" . }}`,
	})
	l := s.loader()
	if _, err := l.Load("a.html.spt"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Load("a.html.spt"); err != nil {
			b.Fatal(err)
		}
	}
}
