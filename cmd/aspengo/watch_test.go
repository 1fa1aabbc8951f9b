package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded"
)

// TestServeStopsWhenDataDirectoryGoes removes or replaces the data
// directory (or its lock file) of a running aspengo serve: the server
// must stop serving, say why, and exit non-zero; then the directory can
// be served again.
func TestServeStopsWhenDataDirectoryGoes(t *testing.T) {
	t.Parallel()
	bin := buildAspengo(t)
	tests := []struct {
		name   string
		break_ func(t *testing.T, data string)
		reason string
	}{
		{"directory removed", func(t *testing.T, data string) {
			if err := os.RemoveAll(data); err != nil {
				t.Fatal(err)
			}
		}, "the directory was removed"},
		{"directory replaced", func(t *testing.T, data string) {
			if err := os.Rename(data, data+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "the directory was replaced"},
		{"lock file removed", func(t *testing.T, data string) {
			if err := os.Remove(filepath.Join(data, embedded.LockFile)); err != nil {
				t.Fatal(err)
			}
		}, "lock file " + embedded.LockFile + " was removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := []string{"--root", "testdata/counter", "--data", data, "--sessions", "memory"}
			p := startServe(t, bin, args...)
			get := func(base string) (int, error) {
				c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				resp, err := c.Get(base + "/counter.html") // writes a document
				if err != nil {
					return 0, err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			if code, err := get(p.base); err != nil || code != 200 {
				t.Fatalf("GET before: %d %v\n%s", code, err, p.logs.String())
			}

			tt.break_(t, data)

			var err error
			select {
			case <-p.done:
				err = p.err
			case <-time.After(time.Minute):
				t.Fatalf("aspengo serve still runs a minute after the change:\n%s", p.logs.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("aspengo serve ended with %v, want a non-zero exit", err)
			}
			logs := p.logs.String()
			if !strings.Contains(logs, "stopping: the data directory is gone") || !strings.Contains(logs, tt.reason) {
				t.Errorf("the log does not say why it stopped (%q):\n%s", tt.reason, logs)
			}
			if code, err := get(p.base); err == nil {
				t.Errorf("GET after the change: answered %d, want no answer", code)
			}

			// The path can be served again, by a new server.
			p2 := startServe(t, bin, args...)
			if code, err := get(p2.base); err != nil || code != 200 {
				t.Errorf("GET from a new server: %d %v\n%s", code, err, p2.logs.String())
			}
		})
	}
}
