package embedded

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestMinLevelHandlerDropsWireDumps(t *testing.T) {
	tests := []struct {
		min   slog.Level
		level slog.Level
		msg   string
		kept  bool
	}{
		{slog.LevelWarn, slog.LevelWarn, "Response message:\n{ \"ok\": 0.0 }", false},
		{slog.LevelWarn, slog.LevelWarn, "Response header: length: 146", false},
		{slog.LevelWarn, slog.LevelWarn, "Request message: {}", false},
		{slog.LevelWarn, slog.LevelWarn, "Listener stopped", true},
		{slog.LevelWarn, slog.LevelInfo, "Connection started", false},
		{slog.LevelDebug, slog.LevelWarn, "Response message: {}", true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		h := minLevelHandler{min: tt.min, h: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}
		if h.Enabled(context.Background(), tt.level) {
			if err := h.Handle(context.Background(), slog.NewRecord(time.Now(), tt.level, tt.msg, 0)); err != nil {
				t.Fatal(err)
			}
		}
		if kept := strings.Contains(buf.String(), "msg="); kept != tt.kept {
			t.Errorf("min %v, %v %q: kept = %v, want %v", tt.min, tt.level, tt.msg, kept, tt.kept)
		}
	}
}
