package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTracebackLog: a multi-line traceback is written as indented lines
// under its record, not as one quoted line; other records are the text
// handler's, attributes of derived loggers included.
func TestTracebackLog(t *testing.T) {
	var buf bytes.Buffer
	log := newTextLogger(&buf, nil).With("site", "www")
	log.Error("internal server error", "path", "/x", "traceback", "Traceback (most recent call last):\n  www/x.spt:2:3: in <toplevel>\n    >    2 | y = 1 // 0\nError: floored division by zero")
	log.Info("request", "traceback", "one line")
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		// Drop the time, which changes.
		if _, rest, ok := strings.Cut(l, " level="); ok && strings.HasPrefix(l, "time=") {
			lines[i] = "level=" + rest
		}
	}
	want := []string{
		`level=ERROR msg="internal server error" site=www path=/x`,
		`    Traceback (most recent call last):`,
		`      www/x.spt:2:3: in <toplevel>`,
		`        >    2 | y = 1 // 0`,
		`    Error: floored division by zero`,
		`level=INFO msg=request site=www traceback="one line"`,
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestServeDev: with --dev, a 500's page shows the traceback with its
// source; without it, it does not. The log has it as readable lines.
func TestServeDev(t *testing.T) {
	for _, dev := range []bool{false, true} {
		args := []string{"--root", "testdata/crash", "--addr", "127.0.0.1:0", "--sessions", "memory", "--data", t.TempDir()}
		if dev {
			args = append(args, "--dev")
		}
		ctx, stop := context.WithCancel(t.Context())
		addrc := make(chan string, 1)
		done := make(chan int, 1)
		var logs syncBuffer
		go func() {
			done <- serveCmd(ctx, args, func(string) string { return "" }, io.Discard, &logs, func(a string) { addrc <- a })
		}()
		var addr string
		select {
		case addr = <-addrc:
		case code := <-done:
			t.Fatalf("serve ended with %d:\n%s", code, logs.String())
		}
		resp, err := http.Get("http://" + addr + "/crash.html")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		stop()
		if code := <-done; code != 0 {
			t.Fatalf("serve: exit %d", code)
		}
		if resp.StatusCode != 500 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		const frame = "&gt;    2 | y = x // 0"
		if got := strings.Contains(string(body), frame); got != dev {
			t.Errorf("dev=%v: page shows the frame's source: %v\n%s", dev, got, body)
		}
		if !strings.Contains(logs.String(), "\n        >    2 | y = x // 0\n") {
			t.Errorf("dev=%v: log lacks the traceback as lines:\n%s", dev, logs.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a server goroutine writing while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
