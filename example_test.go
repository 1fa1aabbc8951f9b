package aspengo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing/fstest"

	"github.com/aspengo/aspengo"
)

// A Go program that serves a www root with a built-in hook of its own.
func Example() {
	root, err := os.MkdirTemp("", "www")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	// The www root: a hooks.conf and one simplate.
	site := fstest.MapFS{
		".aspen/hooks.conf": {Data: []byte("# startup\n^L\n# inbound_early\n^L\n# inbound_late\n^L\n# outbound_early\nexample:powered_by\n")},
		"index.html.spt":    {Data: []byte("name = request.qs.one(\"name\", \"world\")\n[---]\n<p>Hello, {{ .name }}!</p>\n")},
	}
	if err := os.CopyFS(root, site); err != nil {
		log.Fatal(err)
	}

	reg := aspengo.NewRegistry()
	reg.Hook("example:powered_by", aspengo.Hook{Outbound: func(r *aspengo.Request) error {
		r.Response.Header.Set("X-Powered-By", "aspengo")
		return nil
	}})
	w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Shutdown(context.Background())

	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/?name=%3Cgopher%3E", nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, rec.Header().Get("X-Powered-By"))
	fmt.Print(string(body))
	// Output:
	// 200 aspengo
	// <p>Hello, &lt;gopher&gt;!</p>
}
