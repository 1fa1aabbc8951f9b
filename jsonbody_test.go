package aspengo

import (
	"strings"
	"testing"
)

// TestCheckJSONBody: a function anywhere in response.body is refused,
// naming where it is; data passes.
func TestCheckJSONBody(t *testing.T) {
	tests := []struct{ src, wantErr string }{
		{`body = {"a": [1, "x", None, {"b": (True, 2.5)}], "s": set([1])}`, ""},
		{`body = request`, ""},
		{"def f():\n    pass\nbody = f", "response.body: a function cannot be encoded as JSON"},
		{"def f():\n    pass\nbody = {\"a\": [1, f]}", `response.body["a"][1]: a function cannot be encoded as JSON`},
		{`body = (1, len)`, "response.body[1]: a builtin_function_or_method cannot be encoded as JSON"},
	}
	for _, tt := range tests {
		globals, err := execSL(newSLRequest(t, slCase{}), tt.src, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		err = checkJSONBody(globals["body"])
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: error %v, want %q", tt.src, err, tt.wantErr)
		}
	}
}
