package trembling_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing/fstest"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
)

// Sessions on a site served from Go, with the memory store: the page
// counts a visitor's visits in request.session.
func ExampleRegister() {
	root, err := os.MkdirTemp("", "www")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	// The www root: a hooks.conf and one simplate.
	site := fstest.MapFS{
		".aspen/hooks.conf": {Data: []byte("^L\ntrembling.session:inbound\n^L\n^L\n^L\ntrembling.session:outbound\n")},
		"count.txt.spt":     {Data: []byte("request.session[\"n\"] = request.session.get(\"n\", 0) + 1\n[---]\nvisit {{ .request.session.n }}\n")},
	}
	if err := os.CopyFS(root, site); err != nil {
		log.Fatal(err)
	}

	reg := aspengo.NewRegistry()
	if _, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory}); err != nil {
		log.Fatal(err)
	}
	w, err := aspengo.New(aspengo.Config{Root: root, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer w.Shutdown(context.Background())
	srv := httptest.NewServer(w)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for range 3 {
		resp, err := client.Get(srv.URL + "/count.txt")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}
