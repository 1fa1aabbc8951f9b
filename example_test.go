package aspengo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/aspengo/aspengo"
)

// A Go program that serves a www root with a built-in hook of its own.
func Example() {
	root, err := os.MkdirTemp("", "www")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	files := map[string]string{
		".aspen/hooks.conf": "# startup\n^L\n# inbound_early\n^L\n# inbound_late\n^L\n# outbound_early\nexample:powered_by\n",
		"index.html.spt":    "name = request.qs.one(\"name\", \"world\")\n[---]\n<p>Hello, {{ .name }}!</p>\n",
	}
	for name, text := range files {
		path := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
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
