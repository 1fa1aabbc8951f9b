package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRequestTimeoutFlag: --request-timeout reaches the site; a
// page running past it is answered 503 naming the limit.
func TestServeRequestTimeoutFlag(t *testing.T) {
	root := t.TempDir()
	page := "r = max(range(1000000000000000))\n[---]\nnever\n"
	if err := os.WriteFile(filepath.Join(root, "spin.spt"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stop := runServe(t, "--root", root, "--data", t.TempDir(), "--sessions", "memory", "--request-timeout", "200ms")
	defer stop()
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Get(base + "/spin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "limit of 200ms") {
		t.Errorf("GET /spin: %d\n%s", resp.StatusCode, b)
	}
}
