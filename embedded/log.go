package embedded

import (
	"context"
	"log/slog"
)

// minLevelHandler passes on only the records at or above min, so that
// FerretDB's info-level chatter (one line per client connection) is
// dropped even when the wrapped handler would accept it.
type minLevelHandler struct {
	min slog.Leveler
	h   slog.Handler
}

// Enabled implements slog.Handler.
func (m minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min.Level() && m.h.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (m minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return m.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (m minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (m minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithGroup(name)}
}
