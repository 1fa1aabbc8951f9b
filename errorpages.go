package aspengo

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"

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

// render fills req.Response.Body: for a JSON simplate (see wantsJSON)
// with {"error": reason, "code": code}, plus "traceback" where tracebacks
// are shown; else from .aspen/<code>.html, else
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
		"request":   simplate.ToGo(req.starlarkValue()),
		"website":   simplate.ToGo(req.Website.starlarkValue()),
	}
	if wantsJSON(req) {
		body := map[string]any{"code": resp.Code, "error": http.StatusText(resp.Code)}
		if d := resp.message; d != "" {
			body["error"] = d
		}
		if tb != "" {
			body["traceback"] = tb
		}
		b, _ := json.Marshal(body) // only strings and an int: cannot fail
		resp.Body = append(b, '\n')
		resp.Header.Set("Content-Type", "application/json")
		return
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
	if tb != "" {
		showTraceback(&buf, tb)
	}
	resp.Body = buf.Bytes()
	resp.Header.Set("Content-Type", "text/html; charset=utf-8")
}

// wantsJSON reports whether the error body of req should be JSON: the
// resource is a JSON file or simplate (foo.json, foo.json.spt), or, when
// dispatch found none, the URL path ends in .json.
func wantsJSON(req *Request) bool {
	name := req.URL.Path
	if req.Resource != nil {
		name = req.Resource.Path
	}
	return strings.HasSuffix(strings.TrimSuffix(name, ".spt"), ".json")
}

// showTraceback adds tb to the error page in buf when the page does not
// show it already (a site's error.html without .traceback): tracebacks
// are asked for, so they must not depend on the site's template. It goes
// before </body>, or at the end when there is none.
func showTraceback(buf *bytes.Buffer, tb string) {
	escaped := template.HTMLEscapeString(tb)
	if bytes.Contains(buf.Bytes(), []byte(escaped)) {
		return
	}
	block := `<pre class="aspengo-traceback" style="white-space:pre-wrap;background:#f5f5f5;color:#222;padding:1rem;margin:1rem;overflow:auto">` + escaped + "</pre>\n"
	out := buf.Bytes()
	if i := bytes.LastIndex(bytes.ToLower(out), []byte("</body>")); i >= 0 {
		rest := append([]byte(block), out[i:]...)
		buf.Truncate(i)
		buf.Write(rest)
		return
	}
	buf.WriteString(block)
}
