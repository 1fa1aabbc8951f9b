package simplate_test

import (
	"fmt"
	"testing/fstest"

	"github.com/aspengo/aspengo/simplate"
	"go.starlark.net/starlark"
)

func ExampleLoader() {
	www := fstest.MapFS{
		".aspen/base.html": {Data: []byte(`<h1>{{ block "content" . }}{{ end }}</h1>`)},
		"hello.html.spt": {Data: []byte(`greeting = "Hello"
^L
name = request.upper()
^L
{{ define "content" }}{{ .greeting }}, {{ .name }}!{{ end }}{{ template "base.html" . }}`)},
	}
	loader := simplate.NewLoader(simplate.Options{
		FS:       www,
		Globals:  []string{"request"},
		RootName: "www",
	})

	s, err := loader.Load("hello.html.spt")
	if err != nil {
		fmt.Println(err)
		return
	}
	thread := loader.NewThread("GET /hello.html")
	body, err := s.Run(thread, starlark.StringDict{"request": starlark.String("<world>")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ContentType)
	fmt.Println(string(body))
	// Output:
	// text/html; charset=utf-8
	// <h1>Hello, &lt;WORLD&gt;!</h1>
}
