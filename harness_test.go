package aspengo

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The package's own tests start a website here: internal/sitetest, the
// harness of every other test, imports this package, so these cannot
// import it. startWebsite does what sitetest.Start does.

// startWebsite makes the website cfg describes (its logger discards
// unless cfg sets one), runs its startup hooks, and shuts it down when tb
// ends, reporting a failed shutdown.
func startWebsite(tb testing.TB, cfg Config) *Website {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%s): %v", cfg.Root, err)
	}
	if err := w.Start(tb.Context()); err != nil {
		w.Shutdown(context.Background())
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context is done by now; shutdown hooks get their own.
		if err := w.Shutdown(context.Background()); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
	})
	return w
}

// writeSite writes files (name → content) under a new temporary root.
func writeSite(tb testing.TB, files map[string]string) string {
	tb.Helper()
	root := tb.TempDir()
	for name, body := range files {
		writeFile(tb, filepath.Join(root, filepath.FromSlash(name)), body)
	}
	return root
}

// writeFile writes body to the file name, making its directory.
func writeFile(tb testing.TB, name, body string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
}
