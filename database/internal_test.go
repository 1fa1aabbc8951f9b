package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

func TestWrapError(t *testing.T) {
	t.Parallel()
	dup := mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000 duplicate key error"}}}
	tests := []struct {
		name        string
		err         error
		unavailable bool
		duplicate   bool
	}{
		{"deadline", context.DeadlineExceeded, true, false},
		{"wrapped deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true, false},
		{"server selection", topology.ServerSelectionError{Wrapped: errors.New("no server")}, true, false},
		{"connection", topology.ConnectionError{Wrapped: errors.New("refused")}, true, false},
		{"network label", mongo.CommandError{Code: 6, Labels: []string{"NetworkError"}}, true, false},
		{"max time", mongo.CommandError{Code: 50, Name: "MaxTimeMSExpired"}, true, false},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true, false},
		{"disconnected", mongo.ErrClientDisconnected, true, false},
		{"cancelled", context.Canceled, false, false},
		{"cancelled during selection", topology.ServerSelectionError{Wrapped: context.Canceled}, false, false},
		{"duplicate key", dup, false, true},
		{"other command error", mongo.CommandError{Code: 2, Name: "BadValue"}, false, false},
		{"embedded engine unique constraint", mongo.CommandError{Code: 1, Name: "InternalError", Message: "constraint failed: UNIQUE constraint failed: index 'u_1' (2067)"}, false, true},
		{"other internal error", mongo.CommandError{Code: 1, Name: "InternalError", Message: "disk full"}, false, false},
	}
	for _, tt := range tests {
		err := wrapError("c.find", tt.err)
		if got := IsUnavailable(err); got != tt.unavailable {
			t.Errorf("%s: unavailable = %v, want %v (%v)", tt.name, got, tt.unavailable, err)
		}
		if got := IsDuplicateKey(err); got != tt.duplicate {
			t.Errorf("%s: duplicate = %v, want %v", tt.name, got, tt.duplicate)
		}
		if !wraps(err, tt.err) {
			t.Errorf("%s: %v does not wrap the driver error", tt.name, err)
		}
		if !strings.Contains(err.Error(), "c.find") {
			t.Errorf("%s: %q does not name the operation", tt.name, err)
		}
	}
	if wrapError("x", nil) != nil {
		t.Error("wrapError(nil) != nil")
	}
}

// wraps reports whether target is in err's chain, compared by message
// (driver error structs hold slices, so errors.Is cannot compare them).
func wraps(err, target error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == target.Error() {
			return true
		}
	}
	return false
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestCheckUpdatePaths(t *testing.T) {
	t.Parallel()
	ok := []string{"a", "a.b", "items.$.done", "items.$[].done", "items.$[el].done", "a.0.b"}
	for _, p := range ok {
		if err := checkUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: p, Value: 1}}}}); err != nil {
			t.Errorf("$set %q: %v", p, err)
		}
	}
	bad := []string{"$", "$[]", "$where", "a..b", "", "a.$x", "a.$[x", "a\x00"}
	for _, p := range bad {
		if err := checkUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: p, Value: 1}}}}); err == nil {
			t.Errorf("$set %q: no error", p)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"mongodb://u:p@h/db", "mongodb://REDACTED@h/db"},
		{"mongodb+srv://u:p@w@h1,h2/db?x=@", "mongodb+srv://REDACTED@h1,h2/db?x=@"},
		{"mongodb://h/db?u=a@b", "mongodb://h/db?u=a@b"},
		{"mongodb://h", "mongodb://h"},
		{"todoy", "todoy"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
