package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/internal/logbuf"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		code  int
		lines []string // each must appear in stderr
	}{
		{name: "example is fine", args: []string{"--root", "../../example/www"}, code: 0},
		{name: "root from the environment", env: map[string]string{"ASPENGO_ROOT": "../../example/www"}, code: 0},
		{name: "every problem with file:line", args: []string{"--root", "testdata/bad"}, code: 1, lines: []string{
			"testdata/bad/.aspen/hooks.conf:1: ",
			"testdata/bad/broken.html.spt:1: ",
			"testdata/bad/badtemplate.html.spt:3: ",
			"aspengo check: 3 problem(s)",
		}},
		{name: "session hooks without their pair", args: []string{"--root", "testdata/nooutbound"}, code: 1, lines: []string{
			"testdata/nooutbound/.aspen/hooks.conf:4: trembling.session:inbound needs trembling.session:outbound, which hooks.conf does not list: add it in outbound_early or outbound_late",
			"testdata/nooutbound/.aspen/hooks.conf:5: trembling.auth:inbound needs trembling.session:outbound",
		}},
		{name: "silent mistakes", args: []string{"--root", "testdata/silent"}, code: 1, lines: []string{
			`testdata/silent/.aspen/hooks.conf:9: comment "# Outbound Late Hooks" heads section 4 (outbound_early), not outbound_late`,
			`testdata/silent/.aspen/hooks.conf:11: comment "# Shutdown Hooks" heads section 5 (outbound_late), not shutdown`,
			"testdata/silent/save.html.spt:2: add_message needs trembling.session:inbound, trembling.session:outbound in hooks.conf",
			"aspengo check: 3 problem(s)",
		}},
		{name: "unknown flag", args: []string{"--nope"}, code: 2},
		{name: "stray argument", args: []string{"extra"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			code := checkCmd(tt.args, getenv, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, l := range tt.lines {
				if !strings.Contains(stderr.String(), l) {
					t.Errorf("stderr lacks %q:\n%s", l, stderr.String())
				}
			}
		})
	}
}

// TestServeRefusesUnpairedHooks: serve refuses a session hook without its
// pair at startup, with check's message.
func TestServeRefusesUnpairedHooks(t *testing.T) {
	var stderr bytes.Buffer
	code := serveCmd(t.Context(), []string{"--root", "testdata/nooutbound", "--addr", "127.0.0.1:0", "--sessions", "memory"}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	want := "testdata/nooutbound/.aspen/hooks.conf:4: trembling.session:inbound needs trembling.session:outbound, which hooks.conf does not list"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if _, err := os.Stat("testdata/nooutbound/.aspen/data"); err == nil {
		os.RemoveAll("testdata/nooutbound/.aspen/data")
	}
}

func TestServeRefusesBadSite(t *testing.T) {
	var stderr bytes.Buffer
	code := serveCmd(t.Context(), []string{"--root", "testdata/bad", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "testdata/bad/.aspen/hooks.conf:1: ") {
		t.Errorf("stderr lacks the hooks.conf file:line:\n%s", stderr.String())
	}
}

// TestServeDrains stops the server while a request is in flight: the
// request must finish, new connections must be refused, and the shutdown
// hooks must run before serve returns.
func TestServeDrains(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var shutdowns atomic.Int32
	hooks := map[string]aspengo.Hook{
		"slow:inbound": {Inbound: func(r *aspengo.Request) error {
			if r.URL.Path == "/slow.html" {
				close(entered)
				<-release
			}
			return nil
		}},
		"record:shutdown": {Shutdown: func(context.Context, *aspengo.Website) error {
			shutdowns.Add(1)
			return nil
		}},
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var logs logbuf.Buffer
	f := serveFlags{addr: "127.0.0.1:0"}
	f.site.root = "testdata/site"
	f.storage.data = t.TempDir()
	f.sessions.store = "memory"
	f.extend = func(r *aspengo.Registry) error {
		for name, h := range hooks {
			if err := r.Hook(name, h); err != nil {
				return err
			}
		}
		return nil
	}
	f.access, _ = openAccessLog("stderr", &logs)
	go func() {
		done <- serve(ctx, f, slog.New(slog.NewTextHandler(&logs, nil)), func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v", err)
	}
	base := "http://" + addr

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow.html")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	stop() // as SIGTERM does

	// The listener closes at once; the in-flight request still runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		_, err := c.Get(base + "/")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still accepts new connections after stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("serve returned before the in-flight request finished: %v", err)
	default:
	}
	if n := shutdowns.Load(); n != 0 {
		t.Fatalf("shutdown hooks ran before the drain: %d", n)
	}
	close(release)
	r := <-slow
	if r.err != nil || r.code != 200 || !strings.Contains(r.body, "slow") {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if n := shutdowns.Load(); n != 1 {
		t.Errorf("shutdown hooks ran %d times, want 1", n)
	}
	for _, want := range []string{"msg=request method=GET path=/ status=200", "msg=stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), nil, &stdout, &stderr); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
	if code := run(t.Context(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestServeCutsOffSlowClients stops the server while a client is still
// sending its body: after the drain time the connection is cut off and
// the shutdown hooks still run, with time of their own.
func TestServeCutsOffSlowClients(t *testing.T) {
	var shutdowns atomic.Int32
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	f := serveFlags{addr: "127.0.0.1:0", drain: 200 * time.Millisecond}
	f.site.root = "testdata/site"
	f.storage.data = t.TempDir()
	f.sessions.store = "memory"
	reached := make(chan struct{}) // closed when the slow request is in the pipeline
	var reachedOnce sync.Once
	f.extend = func(r *aspengo.Registry) error {
		if err := r.Hook("slow:inbound", aspengo.Hook{Inbound: func(*aspengo.Request) error {
			reachedOnce.Do(func() { close(reached) })
			return nil
		}}); err != nil {
			return err
		}
		return r.Hook("record:shutdown", aspengo.Hook{Shutdown: func(ctx context.Context, _ *aspengo.Website) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			shutdowns.Add(1)
			return nil
		}})
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, f, slog.New(slog.DiscardHandler), func(a string) { addrc <- a }) }()
	addr := <-addrc

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers, then 10 of the 100 bytes the body promises.
	fmt.Fprintf(conn, "POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\na=12345678")
	// Stop only once the server is serving the request, whose body is
	// still incomplete.
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal("the request never reached the pipeline")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after the drain time")
	}
	if n := shutdowns.Load(); n != 1 {
		t.Errorf("shutdown hooks ran %d times, want 1", n)
	}
}

func TestServeRefusesMissingRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "typo")
	var stderr bytes.Buffer
	code := serveCmd(t.Context(), []string{"--root", root, "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "not a directory") {
		t.Errorf("exit %d, stderr %q: want 1 and \"not a directory\"", code, stderr.String())
	}
	if _, err := os.Stat(root); err == nil {
		t.Errorf("serve created the mistyped root %s", root)
	}
}
