package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// accessFlushEvery is how long an access-log line may wait in the buffer.
const accessFlushEvery = 200 * time.Millisecond

// accessBufSize is the buffer size past which lines are written at once.
const accessBufSize = 32 << 10

// accessLogger writes one line per request, in the text form of the other
// log lines (time=... level=INFO msg=request method=GET path=/ status=200
// bytes=1234 duration=1.2ms remote=127.0.0.1:5000). Lines are formatted
// without log/slog's machinery and collected in a buffer that is written
// when it fills up, every accessFlushEvery, and on Close: a request pays
// for formatting its line, not for a write to the terminal or file. Writes
// are whole lines, so they do not tear the lines of the other log.
type accessLogger struct {
	out    io.Writer
	closer io.Closer // the file opened for --access-log FILE, else nil

	mu  sync.Mutex
	buf []byte

	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

// openAccessLog opens the destination named by --access-log: "stderr"
// (the default), "off", or a file name (appended to). It returns nil for
// "off".
func openAccessLog(dest string, stderr io.Writer) (*accessLogger, error) {
	var out io.Writer
	var closer io.Closer
	switch dest {
	case "off", "none":
		return nil, nil
	case "", "stderr", "-":
		out = stderr
	default:
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--access-log: %w", err)
		}
		out, closer = f, f
	}
	a := &accessLogger{out: out, closer: closer, buf: make([]byte, 0, accessBufSize+1024), stop: make(chan struct{}), done: make(chan struct{})}
	go a.flushLoop()
	return a, nil
}

func (a *accessLogger) flushLoop() {
	defer close(a.done)
	t := time.NewTicker(accessFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.mu.Lock()
			a.flushLocked()
			a.mu.Unlock()
		}
	}
}

// flushLocked writes the buffer. a.mu is held, which keeps lines in order.
func (a *accessLogger) flushLocked() {
	if len(a.buf) == 0 {
		return
	}
	a.out.Write(a.buf)
	a.buf = a.buf[:0]
}

// Close writes what is buffered and stops the flusher.
func (a *accessLogger) Close() error {
	if a == nil {
		return nil
	}
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.mu.Lock()
		defer a.mu.Unlock()
		a.flushLocked()
		if a.closer != nil {
			a.err = a.closer.Close()
		}
	})
	return a.err
}

// log adds the line of one request.
func (a *accessLogger) log(start time.Time, r *http.Request, status int, bytes int64, d time.Duration) {
	a.mu.Lock()
	b := a.buf
	b = append(b, "time="...)
	b = start.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level=INFO msg=request method="...)
	b = appendValue(b, r.Method)
	b = append(b, " path="...)
	b = appendValue(b, r.URL.RequestURI())
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " duration="...)
	b = append(b, d.String()...)
	b = append(b, " remote="...)
	b = appendValue(b, r.RemoteAddr)
	b = append(b, '\n')
	a.buf = b
	if len(a.buf) >= accessBufSize {
		a.flushLocked()
	}
	a.mu.Unlock()
}

// appendValue appends s, quoted as log/slog's text handler quotes values
// that need it (empty, spaces, quotes, '=', control or invalid bytes).
func appendValue(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '"' || c == '=' || c == 0x7f || c == '\\' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// handler wraps next so that every request is logged; with a nil logger
// it returns next itself.
func (a *accessLogger) handler(next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriterPool.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		a.log(start, r, sw.status, sw.bytes, time.Since(start))
		*sw = statusWriter{}
		statusWriterPool.Put(sw)
	})
}

var statusWriterPool = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter records the status and size of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status = code
		w.wrote = code >= 200 // 1xx answers come before the real one
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
