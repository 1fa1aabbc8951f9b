package embedded

import (
	"context"
	"log/slog"
	"strings"
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

// Handle implements slog.Handler. FerretDB dumps the wire messages of
// every command that fails at warn level ("Response header: …",
// "Response message: …"); the client gets that error anyway (a TTL index
// refused, the driver's endSessions at disconnect), so those dumps count
// as debug records.
func (m minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	if isWireDump(r.Message) && m.min.Level() > slog.LevelDebug {
		return nil
	}
	return m.h.Handle(ctx, r)
}

// isWireDump reports whether msg is one of FerretDB's wire message dumps.
func isWireDump(msg string) bool {
	for _, p := range []string{"Request header", "Request message", "Response header", "Response message"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// WithAttrs implements slog.Handler.
func (m minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (m minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithGroup(name)}
}
