package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/database"
)

// TestIsUnavailable classifies errors as code calling the driver directly
// sees them, wrapped or not.
func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"other", errors.New("no such thing"), false},
		{"UnavailableError", &database.UnavailableError{Op: "find", Err: errors.New("down")}, true},
		{"wrapped UnavailableError", fmt.Errorf("x: %w", &database.UnavailableError{Op: "find", Err: errors.New("down")}), true},
		{"deadline", context.DeadlineExceeded, true},
		{"wrapped deadline", fmt.Errorf("find: %w", context.DeadlineExceeded), true},
		{"disconnected client", mongo.ErrClientDisconnected, true},
		{"cancelled", context.Canceled, false},
		{"cancelled and deadline", errors.Join(context.Canceled, context.DeadlineExceeded), false},
		{"duplicate key", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000 duplicate key"}}}, false},
	}
	for _, tt := range tests {
		if got := database.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
