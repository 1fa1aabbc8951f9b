package aspengo

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"

	"github.com/aspengo/aspengo/simplate"
)

// builtinErrorPage is used when the site has neither .aspen/<code>.html
// nor .aspen/error.html.
var builtinErrorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ .code }} {{ .message }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}pre{overflow:auto;background:#f5f5f5;padding:1rem}</style>
</head><body><h1>{{ .code }} {{ .message }}</h1>
{{ if .detail }}<p>{{ .detail }}</p>{{ end }}
{{ if .traceback }}<pre>{{ .traceback }}</pre>{{ end }}</body></html>
`))

// errorPages renders the body of responses with a code >= 400.
type errorPages struct {
	loader *simplate.Loader
}

// render fills req.Response.Body from .aspen/<code>.html, else
// .aspen/error.html, else the built-in page. The templates see .code,
// .message (the status text), .detail (why the request was refused or
// stopped, when that is the client's business: the operator that a
// query refused, the time or memory limit that a request exceeded; else
// empty), .traceback (only with --show-tracebacks), .request and
// .website. A broken error template falls back to the built-in page, so
// an error never hides behind another.
func (p *errorPages) render(req *Request, tb string) {
	resp := req.Response
	data := map[string]any{
		"code":      resp.Code,
		"message":   http.StatusText(resp.Code),
		"detail":    resp.message,
		"traceback": tb,
		"request":   simplate.ToGo(req.Starlark()),
		"website":   simplate.ToGo(req.Website.Starlark()),
	}
	var buf bytes.Buffer
	rendered := false
	for _, name := range []string{strconv.Itoa(resp.Code) + ".html", "error.html"} {
		err := p.loader.RenderTemplate(&buf, name, data)
		if err == nil {
			rendered = true
			break
		}
		buf.Reset()
		if !simplate.IsNoTemplate(err) {
			req.Website.log.Error("error page", "template", name, "err", err.Error())
		}
	}
	if !rendered {
		builtinErrorPage.Execute(&buf, data)
	}
	resp.Body = buf.Bytes()
	resp.Header.Set("Content-Type", "text/html; charset=utf-8")
}
