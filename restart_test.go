package aspengo

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo/internal/logbuf"
)

// TestRestartNotice checks that a change to hooks.conf, or to the module
// of a startup hook, is logged at once as needing a restart, also with
// hooks.conf outside the root, while a request hook's module is reloaded
// at the next request without a notice.
func TestRestartNotice(t *testing.T) {
	for _, outside := range []bool{false, true} {
		name := "in .aspen"
		if outside {
			name = "--hooks outside the root"
		}
		t.Run(name, func(t *testing.T) {
			root := writeSite(t, map[string]string{
				".aspen/site.star": "def startup(website):\n    website.title = \"one\"\n",
				".aspen/req.star":  "def inbound(request):\n    pass\n",
				"index.html.spt":   "[---]\n[---]\n{{ .website.title }}",
			})
			conf := "site:startup\n\f\nreq:inbound\n\f\n\f\n\f\n\f\n"
			hooksFile := filepath.Join(root, ".aspen", "hooks.conf")
			if outside {
				hooksFile = filepath.Join(t.TempDir(), "hooks.conf")
			}
			writeFile(t, hooksFile, conf)
			var logs logbuf.Buffer
			w := newTestWebsite(t, root, func(c *Config) {
				c.HooksFile = hooksFile
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			if _, ok := w.watch.Changes(); !ok {
				t.Skip("not watching here")
			}
			waitLog := func(want string, n int) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(logs.String(), want) < n {
					if time.Now().After(deadline) {
						t.Fatalf("no %q in the log after 10s:\n%s", want, logs.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			writeFile(t, hooksFile, conf+"# a comment\n")
			waitLog("restart to apply: hooks.conf", 1)
			writeFile(t, filepath.Join(root, ".aspen", "site.star"), "def startup(website):\n    website.title = \"two\"\n")
			waitLog("restart to apply: the module of the startup hook site:startup", 1)
			// The running site keeps what its startup hook did.
			if _, body := get(w, "/"); body != "one" {
				t.Errorf("GET / = %q, want the title set at startup", body)
			}
			// A request hook's module is no startup configuration.
			writeFile(t, filepath.Join(root, ".aspen", "req.star"), "def inbound(request):\n    request.redirect(\"/x\")\n")
			if code, _ := get(w, "/"); code != 302 {
				t.Errorf("after editing the request hook: status %d, want 302", code)
			}
			// Saving the same content again is no new change.
			if err := os.WriteFile(hooksFile, []byte(conf+"# a comment\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			writeFile(t, hooksFile, conf+"# another\n")
			waitLog("restart to apply: hooks.conf", 2)
			if n := strings.Count(logs.String(), "restart to apply: hooks.conf"); n != 2 {
				t.Errorf("%d notices for two changes of hooks.conf:\n%s", n, logs.String())
			}
			writeFile(t, hooksFile, conf)
			waitLog("hooks.conf (the list of hooks) is back to the version the running server uses", 1)
		})
	}
}
