package aspengo

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTypedGetters runs request.qs.int/.float/.bool/.choice (and the same
// on request.body) over good and bad input: good input gives a value of
// the type; bad input ends the request with a 400 whose detail says why.
func TestTypedGetters(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		body       string // url-encoded form, POSTed
		src        string // sets result
		want       string // repr of result when there is no 400
		wantDetail string // the 400's detail
	}{
		{name: "int", target: "/?n=42", src: `result = request.qs.int("n")`, want: "42"},
		{name: "int negative and spaces", target: "/?n=%20-7%20", src: `result = request.qs.int("n")`, want: "-7"},
		{name: "int default when missing", src: `result = request.qs.int("page", default=1, min=1)`, want: "1"},
		{name: "int default when empty", target: "/?page=", src: `result = request.qs.int("page", default=1)`, want: "1"},
		{name: "int in range", target: "/?page=3", src: `result = request.qs.int("page", default=1, min=1, max=3)`, want: "3"},
		{name: "int not a number", target: "/?n=abc", src: `result = request.qs.int("n", default=0)`, wantDetail: `n must be a whole number, not "abc"`},
		{name: "int a float", target: "/?n=1.5", src: `result = request.qs.int("n")`, wantDetail: `n must be a whole number, not "1.5"`},
		{name: "int too big for 64 bits", target: "/?n=99999999999999999999", src: `result = request.qs.int("n")`, wantDetail: `n is out of range: "99999999999999999999"`},
		{name: "int required", src: `result = request.qs.int("n")`, wantDetail: `n is required`},
		{name: "int below min", target: "/?page=0", src: `result = request.qs.int("page", default=1, min=1)`, wantDetail: `page must be at least 1, not 0`},
		{name: "int above max", target: "/?page=11", src: `result = request.qs.int("page", max=10)`, wantDetail: `page must be at most 10, not 11`},
		{name: "float", target: "/?x=2.5", src: `result = request.qs.float("x")`, want: "2.5"},
		{name: "float from int text", target: "/?x=3", src: `result = request.qs.float("x", min=0, max=3.5)`, want: "3.0"},
		{name: "float default", src: `result = request.qs.float("x", default=0.5)`, want: "0.5"},
		{name: "float NaN refused", target: "/?x=NaN", src: `result = request.qs.float("x")`, wantDetail: `x must be a number, not "NaN"`},
		{name: "float Inf refused", target: "/?x=inf", src: `result = request.qs.float("x")`, wantDetail: `x must be a number, not "inf"`},
		{name: "float hex refused", target: "/?x=0x1p3", src: `result = request.qs.float("x")`, wantDetail: `x must be a number, not "0x1p3"`},
		{name: "float below min", target: "/?x=-0.1", src: `result = request.qs.float("x", min=0)`, wantDetail: `x must be at least 0, not -0.1`},
		{name: "bool on", target: "/?b=on", src: `result = request.qs.bool("b")`, want: "True"},
		{name: "bool No", target: "/?b=No", src: `result = request.qs.bool("b")`, want: "False"},
		{name: "bool missing is False", src: `result = request.qs.bool("b")`, want: "False"},
		{name: "bool default", src: `result = request.qs.bool("b", default=True)`, want: "True"},
		{name: "bool bad", target: "/?b=maybe", src: `result = request.qs.bool("b")`, wantDetail: `b must be true or false (1/0, yes/no, on/off), not "maybe"`},
		{name: "bool required", src: `result = request.qs.bool("b", default=None)`, wantDetail: `b is required`},
		{name: "choice", target: "/?sort=new", src: `result = request.qs.choice("sort", ["new", "old"])`, want: `"new"`},
		{name: "choice default", src: `result = request.qs.choice("sort", ("new", "old"), default="old")`, want: `"old"`},
		{name: "choice bad", target: "/?sort=x", src: `result = request.qs.choice("sort", ["new", "old"])`, wantDetail: `sort must be one of new, old, not "x"`},
		{name: "body int", body: "qty=5", src: `result = request.body.int("qty", min=1)`, want: "5"},
		{name: "body int bad", body: "qty=five", src: `result = request.body.int("qty", min=1)`, wantDetail: `qty must be a whole number, not "five"`},
		{name: "body choice", body: "level=warning", src: `result = request.body.choice("level", ["info", "warning"])`, want: `"warning"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := slCase{target: tt.target}
			if tt.body != "" {
				c.method, c.body, c.header = http.MethodPost, tt.body, form(urlencoded)
			}
			r := newSLRequest(t, c)
			globals, err := execSL(r, tt.src, nil)
			if tt.wantDetail == "" {
				if err != nil {
					t.Fatalf("exec: %v", err)
				}
				if got := globals["result"].String(); got != tt.want {
					t.Errorf("result = %s, want %s", got, tt.want)
				}
				return
			}
			var resp *Response
			if !errors.As(err, &resp) || resp.Code != http.StatusBadRequest {
				t.Fatalf("error = %v, want a 400 response", err)
			}
			if got := resp.message; got != tt.wantDetail {
				t.Errorf("detail = %q, want %q", got, tt.wantDetail)
			}
		})
	}
}

// TestTypedGetterArgs: mistakes of the page itself are Starlark errors,
// not 400s.
func TestTypedGetterArgs(t *testing.T) {
	for _, tt := range []struct{ src, wantErr string }{
		{`request.qs.int("n", default="1")`, "default, min and max must be int or None"},
		{`request.qs.float("n", min="0")`, "must be numbers or None"},
		{`request.qs.bool("n", default=1)`, "default must be bool or None"},
		{`request.qs.choice("n", [1, 2])`, "choices must be strings"},
		{`request.qs.choice("n", [])`, "no choices"},
	} {
		t.Run(tt.src, func(t *testing.T) {
			_, err := execSL(newSLRequest(t, slCase{target: "/?n=1"}), tt.src, nil)
			var resp *Response
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.As(err, &resp) {
				t.Errorf("error = %v, want a Starlark error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestResponseHeadersIndex: response.headers[name] reads and sets, as
// request.headers[name] reads.
func TestResponseHeadersIndex(t *testing.T) {
	r := newSLRequest(t, slCase{})
	globals, err := execSL(r, `
response.headers["X-Frame-Options"] = "DENY"
response.headers.add("Vary", "Cookie")
response.headers["vary"] = "Accept"
result = [response.headers["x-frame-options"], response.headers["Vary"], "X-Frame-Options" in response.headers]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := globals["result"].String(), `["DENY", "Accept", True]`; got != want {
		t.Errorf("result = %s, want %s", got, want)
	}
	if diff := cmp.Diff(http.Header{"X-Frame-Options": {"DENY"}, "Vary": {"Accept"}}, r.Response.Header); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ src, wantErr string }{
		{`response.headers["X-Nope"]`, `no header "X-Nope"`},
		{`response.headers["Bad Name"] = "x"`, "invalid header name"},
		{`response.headers["X-A"] = "a\r\nSet-Cookie: x=1"`, "invalid value for header"},
		{`response.headers["X-A"] = 1`, "value must be str, not int"},
		{`response.headers[1] = "x"`, "key must be str, not int"},
	} {
		_, err := execSL(newSLRequest(t, slCase{}), tt.src, nil)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v, want one containing %q", tt.src, err, tt.wantErr)
		}
	}
}
