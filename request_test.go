package aspengo_test

import (
	"net/http/httptest"
	"testing"

	"github.com/aspengo/aspengo"
)

type keyA struct{}
type keyB struct{}

// TestRequestValue checks SetValue and Value: values by key, a second
// SetValue replacing the first, nil for a key never set.
func TestRequestValue(t *testing.T) {
	r := &aspengo.Request{Request: httptest.NewRequest("GET", "/", nil)}
	if v := r.Value(keyA{}); v != nil {
		t.Errorf("Value before SetValue = %v", v)
	}
	r.SetValue(keyA{}, 1)
	r.SetValue(keyB{}, "b")
	r.SetValue(keyA{}, 2)
	for _, tt := range []struct {
		key, want any
	}{{keyA{}, 2}, {keyB{}, "b"}, {"other", nil}} {
		if got := r.Value(tt.key); got != tt.want {
			t.Errorf("Value(%T) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
