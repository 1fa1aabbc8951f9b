package aspengo_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/logbuf"
	"github.com/aspengo/aspengo/internal/sitetest"
)

// unavailable is a StatusError, as a database that cannot be reached is.
type unavailable struct{}

func (unavailable) Error() string   { return "store unavailable" }
func (unavailable) HTTPStatus() int { return http.StatusServiceUnavailable }

// TestLazyAttr checks that an attribute set with SetLazyAttr costs nothing
// to a request that never reads it, is computed once for one that does,
// and that its failure fails the page that needed it.
func TestLazyAttr(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		".aspen/hooks.conf": "\f\nlazy:inbound\n\f\n\f\n\f\n\f\n",
		"style.css":         "body{}",
		"plain.html.spt":    "[---]\nx = 1\n[---]\nplain {{ .x }}",
		"code.html.spt":     "[---]\nv = request.thing + request.thing\n[---]\n{{ .v }}",
		"template.html.spt": "[---]\n[---]\n{{ .request.thing }}",
		"method.html.spt":   "[---]\n[---]\n{{ .request.method }} {{ .website }}",
		"with.html.spt":     "[---]\n[---]\n{{ with .request }}{{ .method }}{{ end }}",
		"base.html.spt":     "[---]\ny = 2\n[---]\n{{ define \"t\" }}{{ .method }}{{ $.thing }}{{ end }}{{ template \"t\" .request }}",
		"names.json.spt":    "[---]\nresponse.body = {'has': hasattr(request, 'thing')}",
		"data.json.spt":     "[---]\nresponse.body = {'thing': request.thing}",
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
	var loads atomic.Int64
	reg := aspengo.NewRegistry()
	err := reg.Hook("lazy:inbound", aspengo.Hook{Inbound: func(r *aspengo.Request) error {
		r.SetLazyAttr("thing", func() (starlark.Value, error) {
			loads.Add(1)
			if r.URL.Query().Get("fail") != "" {
				return nil, unavailable{}
			}
			return starlark.String("T"), nil
		})
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := sitetest.Start(t, aspengo.Config{Root: root, Registry: reg, Logger: slog.New(slog.NewTextHandler(&logbuf.Buffer{}, nil))})

	tests := []struct {
		path      string
		wantCode  int
		wantBody  string
		wantLoads int64
	}{
		{"/style.css", 200, "body{}", 0},
		// Template pages that cannot read it never load it.
		{"/plain.html", 200, "plain 1", 0},
		{"/method.html", 200, "GET map[]", 0},
		// One that hands all of request to with may read it.
		{"/with.html", 200, "GET", 1},
		{"/base.html", 200, "GETT", 1},
		{"/names.json", 200, `{"has":true}`, 1}, // hasattr reads it
		{"/code.html", 200, "TT", 1},
		{"/template.html", 200, "T", 1},
		{"/data.json", 200, `{"thing":"T"}`, 1},
		{"/code.html?fail=1", 503, "", 1},
		{"/template.html?fail=1", 503, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			loads.Store(0)
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d, want %d; body %q", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tt.wantBody)
			}
			if got := loads.Load(); got != tt.wantLoads {
				t.Errorf("%d loads, want %d", got, tt.wantLoads)
			}
		})
	}
}

// TestLazyAttrFromGo checks Request.Attr: a lazy value is computed on the
// first read and kept; SetAttr replaces a pending lazy value.
func TestLazyAttrFromGo(t *testing.T) {
	r := &aspengo.Request{Request: httptest.NewRequest("GET", "/", nil)}
	calls := 0
	r.SetLazyAttr("a", func() (starlark.Value, error) { calls++; return starlark.MakeInt(7), nil })
	for range 2 {
		v, ok, err := r.Attr("a")
		if !ok || err != nil || v != starlark.MakeInt(7) {
			t.Fatalf("Attr(a) = %v, %v, %v", v, ok, err)
		}
	}
	if calls != 1 {
		t.Errorf("load called %d times, want 1", calls)
	}
	r.SetLazyAttr("b", func() (starlark.Value, error) { return nil, errors.New("no") })
	for range 2 { // the error is kept
		if _, ok, err := r.Attr("b"); !ok || err == nil || err.Error() != "no" {
			t.Errorf("Attr(b) = %v, %v; want the load error", ok, err)
		}
	}
	r.SetAttr("b", starlark.True)
	if v, ok, err := r.Attr("b"); !ok || err != nil || v != starlark.True {
		t.Errorf("Attr(b) after SetAttr = %v, %v, %v", v, ok, err)
	}
	if _, ok, _ := r.Attr("none"); ok {
		t.Error("Attr(none) reported set")
	}
}
