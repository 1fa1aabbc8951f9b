package simplate

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func TestCheckJSONDepth(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"flat", `{"a": [1, 2, {"b": null}]}`, true},
		{"at the limit", deep(MaxJSONDepth), true},
		{"over the limit", deep(MaxJSONDepth + 1), false},
		{"brackets inside strings do not count", `["` + strings.Repeat("[", 2*MaxJSONDepth) + `"]`, true},
		{"escaped quote keeps the string open", `["\"` + strings.Repeat("{", 2*MaxJSONDepth) + `"]`, true},
		{"unclosed", strings.Repeat("{\"a\":", MaxJSONDepth+1), false},
	}
	for _, tt := range tests {
		if err := CheckJSONDepth(tt.in); (err == nil) != tt.ok {
			t.Errorf("%s: CheckJSONDepth = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// The json module pages get refuses deep nesting instead of overflowing
// the stack.
func TestJSONModuleDecodeDepth(t *testing.T) {
	thread := &starlark.Thread{}
	decode := jsonModule.Members["decode"]
	if _, err := starlark.Call(thread, decode, starlark.Tuple{starlark.String(strings.Repeat("[", 2<<20))}, nil); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep decode: %v", err)
	}
	v, err := starlark.Call(thread, decode, starlark.Tuple{starlark.String(`{"a": [1]}`)}, nil)
	if err != nil || v.String() != `{"a": [1]}` {
		t.Errorf("decode = %v, %v", v, err)
	}
}

// A structure that shares itself takes a few steps to build and would
// take 2^64 to convert in full; ToGo stops at its budget instead.
func TestToGoSelfSharing(t *testing.T) {
	a := starlark.NewList(nil)
	a.Append(a)
	a.Append(a)
	count := 0
	var walk func(x any)
	walk = func(x any) {
		count++
		if l, ok := x.([]any); ok {
			for _, e := range l {
				walk(e)
			}
		}
	}
	walk(ToGo(a))
	// Each converted list keeps a slot per element; past the budget the
	// slots hold nil, so at most two slots per converted value here.
	if count > 2*maxValues+1 {
		t.Errorf("ToGo produced %d values for a budget of %d", count, maxValues)
	}
}
