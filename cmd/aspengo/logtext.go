package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// tracebackHandler is a slog text handler that writes a multi-line
// "traceback" attribute as indented lines below its record, so that a
// developer reads it as it is, not as one quoted line full of \n. Other
// attributes are the text handler's.
type tracebackHandler struct {
	inner slog.Handler
	w     io.Writer
	mu    *sync.Mutex // shared by derived handlers: a record and its traceback stay together
}

var _ slog.Handler = (*tracebackHandler)(nil)

// newTextLogger returns a logger writing text records to w, with
// tracebacks as readable lines.
func newTextLogger(w io.Writer, opts *slog.HandlerOptions) *slog.Logger {
	return slog.New(&tracebackHandler{inner: slog.NewTextHandler(w, opts), w: w, mu: &sync.Mutex{}})
}

func (h *tracebackHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *tracebackHandler) Handle(ctx context.Context, r slog.Record) error {
	var tb string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "traceback" && a.Value.Kind() == slog.KindString && strings.Contains(a.Value.String(), "\n") {
			tb = a.Value.String()
			return false
		}
		return true
	})
	if tb == "" {
		return h.inner.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "traceback" {
			out.AddAttrs(a)
		}
		return true
	})
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(tb, "\n"), "\n") {
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.inner.Handle(ctx, out); err != nil {
		return err
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *tracebackHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &tracebackHandler{inner: h.inner.WithAttrs(as), w: h.w, mu: h.mu}
}

func (h *tracebackHandler) WithGroup(name string) slog.Handler {
	return &tracebackHandler{inner: h.inner.WithGroup(name), w: h.w, mu: h.mu}
}
