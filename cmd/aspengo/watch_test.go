package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded"
)

// serveProcess is a running aspengo serve process.
type serveProcess struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	log  strings.Builder
	done chan error // the result of Wait
}

// startProcess runs bin serve with args and waits until it listens.
func startProcess(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{cmd: exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...), done: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	urls := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`url=(http://\S+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case p.base = <-urls:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("aspengo serve exited before it listened (%v):\n%s", err, p.logs())
	case <-time.After(time.Minute):
		t.Fatalf("aspengo serve did not listen within a minute:\n%s", p.logs())
	}
	return p
}

func (p *serveProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// TestServeStopsWhenDataDirectoryGoes removes or replaces the data
// directory (or its lock file) of a running aspengo serve: the server
// must stop serving, say why, and exit non-zero; then the directory can
// be served again.
func TestServeStopsWhenDataDirectoryGoes(t *testing.T) {
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
			p := startProcess(t, bin, args...)
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
				t.Fatalf("GET before: %d %v\n%s", code, err, p.logs())
			}

			tt.break_(t, data)

			var err error
			select {
			case err = <-p.done:
				p.done <- err // for the cleanup
			case <-time.After(time.Minute):
				t.Fatalf("aspengo serve still runs a minute after the change:\n%s", p.logs())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("aspengo serve ended with %v, want a non-zero exit", err)
			}
			logs := p.logs()
			if !strings.Contains(logs, "stopping: the data directory is gone") || !strings.Contains(logs, tt.reason) {
				t.Errorf("the log does not say why it stopped (%q):\n%s", tt.reason, logs)
			}
			if code, err := get(p.base); err == nil {
				t.Errorf("GET after the change: answered %d, want no answer", code)
			}

			// The path can be served again, by a new server.
			p2 := startProcess(t, bin, args...)
			if code, err := get(p2.base); err != nil || code != 200 {
				t.Errorf("GET from a new server: %d %v\n%s", code, err, p2.logs())
			}
		})
	}
}
