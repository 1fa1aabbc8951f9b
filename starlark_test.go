package aspengo

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// slCase describes a request for the Starlark API tests.
type slCase struct {
	method string // GET when empty
	target string // "/" when empty
	header http.Header
	body   string
	setup  func(r *Request)
}

// newSLRequest builds a Request around an httptest request, as the
// pipeline does before running Starlark code.
func newSLRequest(t testing.TB, c slCase) *Request {
	t.Helper()
	method, target := c.method, c.target
	if method == "" {
		method = http.MethodGet
	}
	if target == "" {
		target = "/"
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	hr := httptest.NewRequest(method, target, body)
	for k, vs := range c.header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	r := &Request{
		Request:  hr,
		Website:  &Website{registry: NewRegistry()},
		Response: &Response{Code: http.StatusOK, Header: http.Header{}},
	}
	if c.setup != nil {
		c.setup(r)
	}
	return r
}

var slFileOptions = &syntax.FileOptions{TopLevelControl: true, GlobalReassign: true, Set: true, While: true}

// execSL runs src as a simplate page would: with request, response,
// website and abort predeclared, on a thread that carries the request.
func execSL(r *Request, src string, extra starlark.StringDict) (starlark.StringDict, error) {
	thread := &starlark.Thread{Name: "test"}
	thread.SetLocal(threadRequestKey, r)
	predeclared := starlark.StringDict{
		"request":  r.starlarkValue(),
		"response": newResponseValue(r),
		"website":  r.Website.starlarkValue(),
		"abort":    abortBuiltin,
	}
	for k, v := range extra {
		predeclared[k] = v
	}
	return starlark.ExecFileOptions(slFileOptions, thread, "test.star", src, predeclared)
}

// multipartBody returns a multipart form with the field note=hello and the
// file upload=report.txt, and its Content-Type.
func multipartBody(t testing.TB) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("note", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := mw.WriteField("note", "again"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("upload", "report.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, "file contents\n")
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

func form(ct string) http.Header { return http.Header{"Content-Type": {ct}} }

const urlencoded = "application/x-www-form-urlencoded"

func TestStarlarkRequest(t *testing.T) {
	mpBody, mpType := multipartBody(t)
	tests := []struct {
		name string
		req  slCase
		src  string // sets result
		want string // repr of result
	}{
		{
			name: "method",
			req:  slCase{method: "PATCH"},
			src:  `result = request.method`,
			want: `"PATCH"`,
		},
		{
			name: "method booleans",
			req:  slCase{method: "POST"},
			src:  `result = [request.GET, request.POST, request.PUT, request.PATCH, request.DELETE, request.HEAD, request.OPTIONS]`,
			want: `[False, True, False, False, False, False, False]`,
		},
		{
			name: "HEAD is not GET",
			req:  slCase{method: "HEAD"},
			src:  `result = [request.GET, request.HEAD]`,
			want: `[False, True]`,
		},
		{
			name: "path",
			req: slCase{target: "/2024/hello%20world/", setup: func(r *Request) {
				r.Resource = &Resource{Path: "%year.int/%slug/index.spt", Vars: map[string]any{"year": 2024, "slug": "hello world"}}
			}},
			src: `p = request.path
result = [p["year"], p["year"] + 1, p["slug"], p.raw, p.get("nope"), p.get("nope", 7), p.get("year"),
    "year" in p, "nope" in p, 1 in p, p.keys()]`,
			want: `[2024, 2025, "hello world", "/2024/hello world/", None, 7, 2024, True, False, False, ["slug", "year"]]`,
		},
		{
			name: "path without resource",
			req:  slCase{target: "/a/b"},
			src:  `result = [request.path.raw, request.path.keys(), "x" in request.path]`,
			want: `["/a/b", [], False]`,
		},
		{
			name: "qs",
			req:  slCase{target: "/?a=1&a=2&b=x%20y&e="},
			src: `q = request.qs
result = [q["a"], q.one("a"), q.all("a"), q.one("c"), q.one("c", "d"), q.get("b"), q.all("c"),
    "a" in q, "c" in q, "e" in q, q["e"], q.keys(), bool(q)]`,
			want: `["1", "1", ["1", "2"], None, "d", "x y", [], True, False, True, "", ["a", "b", "e"], True]`,
		},
		{
			name: "empty qs",
			req:  slCase{},
			src:  `result = [bool(request.qs), request.qs.keys()]`,
			want: `[False, []]`,
		},
		{
			name: "url-encoded body",
			req:  slCase{method: "POST", target: "/?q=1", header: form(urlencoded), body: "title=Hi+there&tag=a&tag=b"},
			src: `b = request.body
result = [b["title"], request.body["title"], b.all("tag"), b.one("tag"), b.one("q"), "q" in b, b.keys(), b.file("title"), bool(b)]`,
			want: `["Hi there", "Hi there", ["a", "b"], "a", None, False, ["tag", "title"], None, True]`,
		},
		{
			name: "multipart body with a file",
			req:  slCase{method: "POST", header: form(mpType), body: mpBody},
			src: `f = request.body.file("upload")
result = [request.body["note"], request.body.all("note"), request.body.keys(),
    f.filename, f.content_type, f.size, f.read(), f.read(), request.body.file("missing"), type(f)]`,
			want: `["hello", ["hello", "again"], ["note"], "report.txt", "application/octet-stream", 14, b"file contents\n", b"file contents\n", None, "file"]`,
		},
		{
			name: "body of a GET",
			req:  slCase{},
			src:  `result = [bool(request.body), request.body.keys(), request.body.one("x", 0)]`,
			want: `[False, [], 0]`,
		},
		{
			name: "body of another content type is empty",
			req:  slCase{method: "POST", header: form("text/plain"), body: "a=1"},
			src:  `result = [request.body.keys(), request.json]`,
			want: `[[], None]`,
		},
		{
			name: "json",
			req:  slCase{method: "POST", header: form("application/json; charset=utf-8"), body: `{"b": [1, 2.5, "x", true], "a": null}`},
			src:  `result = [request.json, request.json["b"][0] + 1, request.body.keys()]`,
			want: `[{"b": [1, 2.5, "x", True], "a": None}, 2, []]`,
		},
		{
			name: "json suffix",
			req:  slCase{method: "PUT", header: form("application/vnd.api+json"), body: `[1]`},
			src:  `result = request.json`,
			want: `[1]`,
		},
		{
			name: "json of a form is None",
			req:  slCase{method: "POST", header: form(urlencoded), body: "a=1"},
			src:  `result = [request.json, request.body["a"]]`,
			want: `[None, "1"]`,
		},
		{
			name: "headers",
			req:  slCase{header: http.Header{"X-Thing": {"a", "b"}}},
			src: `h = request.headers
result = [h.one("x-thing"), h.get("X-THING"), h.all("x-thing"), h.one("nope"), h.one("nope", "d"), h.all("nope"),
    "x-thing" in h, "nope" in h, h["X-Thing"], h.one("host"), "Host" in h]`,
			want: `["a", "a", ["a", "b"], None, "d", [], True, False, "a", "example.com", True]`,
		},
		{
			name: "cookie",
			req:  slCase{header: http.Header{"Cookie": {"a=1; b=two", "a=3"}}},
			src:  `result = [request.cookie, request.cookie.get("c")]`,
			want: `[{"a": "1", "b": "two"}, None]`,
		},
		{
			name: "url host scheme",
			req:  slCase{target: "http://example.org:8080/p/q%2Fr?x=1&y=%20"},
			src:  `result = [request.url, request.host, request.scheme]`,
			want: `["http://example.org:8080/p/q%2Fr?x=1&y=%20", "example.org:8080", "http"]`,
		},
		{
			name: "https from TLS only",
			req:  slCase{target: "https://secure.example/a"},
			src:  `result = [request.url, request.scheme]`,
			want: `["https://secure.example/a", "https"]`,
		},
		{
			name: "X-Forwarded-Proto is not trusted",
			req:  slCase{target: "/a", header: http.Header{"X-Forwarded-Proto": {"https"}}},
			src:  `result = [request.url, request.scheme]`,
			want: `["http://example.com/a", "http"]`,
		},
		{
			name: "Host header",
			req: slCase{target: "/a?b", setup: func(r *Request) {
				r.Host = "other.test"
			}},
			src:  `result = [request.url, request.host]`,
			want: `["http://other.test/a?b", "other.test"]`,
		},
		{
			name: "hook attributes",
			req: slCase{setup: func(r *Request) {
				d := starlark.NewDict(1)
				d.SetKey(starlark.String("username"), starlark.String("ann"))
				r.SetAttr("user", d)
				r.SetAttr("session", starlark.NewDict(0))
				r.Website.registry.RequestAttr("session", "trembling.session:inbound")
				r.Website.registry.RequestAttr("authenticated", "trembling.auth:inbound")
			}},
			src: `request.session["cart"] = [1]
request.session["cart"].append(2)
result = [request.user["username"], request.session, hasattr(request, "user"), hasattr(request, "authenticated"),
    "user" in dir(request), "authenticated" in dir(request), "method" in dir(request)]`,
			want: `["ann", {"cart": [1, 2]}, True, False, True, False, True]`,
		},
		{
			name: "allow with the request's method",
			req:  slCase{method: "POST"},
			src:  `result = request.allow("GET", "post")`,
			want: `None`,
		},
		{
			name: "allow GET implies HEAD",
			req:  slCase{method: "HEAD"},
			src:  `result = request.allow("GET")`,
			want: `None`,
		},
		{
			name: "types",
			req:  slCase{method: "POST", header: form(mpType), body: mpBody},
			src: `result = [type(request), type(request.path), type(request.qs), type(request.body), type(request.headers),
    type(response), type(response.headers), type(website), str(request), str(response)]`,
			want: `["request", "request.path", "request.qs", "request.body", "request.headers", "response", "response.headers", "website", "<request POST />", "<response 200>"]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSLRequest(t, tt.req)
			globals, err := execSL(r, tt.src, nil)
			if err != nil {
				t.Fatalf("exec: %v", err)
			}
			if got := globals["result"].String(); got != tt.want {
				t.Errorf("result\n got %s\nwant %s", got, tt.want)
			}
			if r.Response.Code != http.StatusOK {
				t.Errorf("response code changed to %d", r.Response.Code)
			}
			if r.starlarkValue() != r.starlarkValue() {
				t.Error("Request.starlarkValue returns a new value each time")
			}
		})
	}
}

// TestStarlarkStop checks the Starlark calls that end a request: the
// error out of the Starlark execution is an *EvalError that wraps the
// request's *Response.
func TestStarlarkStop(t *testing.T) {
	mpBody, mpType := multipartBody(t)
	limit := func(n int64) func(r *Request) {
		return func(r *Request) { r.Body = http.MaxBytesReader(nil, r.Body, n) }
	}
	tests := []struct {
		name       string
		req        slCase
		src        string
		wantCode   int         // 0: no *Response in the error
		wantHeader http.Header // headers that must be on the response
		wantBody   string
		wantErr    string // substring of the error message
	}{
		{name: "abort", src: `abort(403)`, wantCode: 403, wantErr: "abort(403)"},
		{name: "abort with body", src: `abort(404, body="gone")`, wantCode: 404, wantBody: "gone"},
		{name: "abort with bytes", src: `abort(200, b"ok")`, wantCode: 200, wantBody: "ok"},
		{name: "abort from a function", src: "def f():\n    abort(418)\nf()", wantCode: 418},
		{name: "abort code too high", src: `abort(600)`, wantErr: "not in 100..599"},
		{name: "abort code too low", src: `abort(99)`, wantErr: "not in 100..599"},
		{name: "abort bad body", src: `abort(400, 1)`, wantErr: "body must be str, bytes or None"},
		{name: "abort bad code type", src: `abort("403")`, wantErr: "abort: for parameter code"},
		{
			name:       "redirect",
			src:        `request.redirect("/next?x=1")`,
			wantCode:   302,
			wantHeader: http.Header{"Location": {"/next?x=1"}},
			wantErr:    `redirect(302, "/next?x=1")`,
		},
		{
			name:       "redirect permanent",
			src:        `request.redirect("https://example.org/", permanent=True)`,
			wantCode:   301,
			wantHeader: http.Header{"Location": {"https://example.org/"}},
		},
		{
			name:       "redirect code wins over permanent",
			src:        `request.redirect("/x", code=303, permanent=True)`,
			wantCode:   303,
			wantHeader: http.Header{"Location": {"/x"}},
		},
		{
			name:       "redirect drops a body set before",
			src:        "response.body = 'x'\nrequest.redirect('/x', 307)",
			wantCode:   307,
			wantHeader: http.Header{"Location": {"/x"}},
		},
		{name: "redirect with a 200", src: `request.redirect("/x", code=200)`, wantErr: "not a redirect"},
		{name: "redirect header injection", src: `request.redirect("/a\r\nSet-Cookie: x=1")`, wantErr: "invalid location"},
		{name: "redirect empty", src: `request.redirect("")`, wantErr: "invalid location"},
		{
			name:       "allow refuses",
			src:        `request.allow("POST")`,
			wantCode:   405,
			wantHeader: http.Header{"Allow": {"POST"}},
			wantErr:    "method GET not allowed",
		},
		{
			name:       "allow lists HEAD with GET",
			req:        slCase{method: "PUT"},
			src:        `request.allow("get", "POST", "GET")`,
			wantCode:   405,
			wantHeader: http.Header{"Allow": {"GET, HEAD, POST"}},
		},
		{name: "allow bad argument", src: `request.allow(1)`, wantErr: "not a method name"},
		{name: "missing qs key", req: slCase{target: "/?a=1"}, src: `request.qs["b"]`, wantCode: 400, wantErr: `key "b" not in request.qs`},
		{
			name:     "missing body key",
			req:      slCase{method: "POST", header: form(urlencoded), body: "a=1"},
			src:      `request.body["b"]`,
			wantCode: 400,
			wantErr:  `key "b" not in request.body`,
		},
		{name: "missing header", src: `request.headers["X-Nope"]`, wantCode: 400},
		{
			name:     "url-encoded body too large",
			req:      slCase{method: "POST", header: form(urlencoded), body: "a=" + strings.Repeat("x", 2000), setup: limit(100)},
			src:      `request.body`,
			wantCode: 413,
		},
		{
			name:     "body too large found by a function",
			req:      slCase{method: "POST", header: form(urlencoded), body: "a=" + strings.Repeat("x", 2000), setup: limit(100)},
			src:      "def f():\n    return request.body.one('a')\nf()",
			wantCode: 413,
		},
		{
			name:     "multipart body too large",
			req:      slCase{method: "POST", header: form(mpType), body: mpBody, setup: limit(60)},
			src:      `request.body.file("upload")`,
			wantCode: 413,
		},
		{
			name:     "malformed url-encoded body",
			req:      slCase{method: "POST", header: form(urlencoded), body: "a=%zz"},
			src:      `request.body`,
			wantCode: 400,
		},
		{
			name:     "malformed multipart body",
			req:      slCase{method: "POST", header: form("multipart/form-data; boundary=xyz"), body: "not multipart at all"},
			src:      `request.body`,
			wantCode: 400,
		},
		{
			name:     "malformed content type",
			req:      slCase{method: "POST", header: form("multipart/form-data; boundary"), body: "a=1"},
			src:      `request.body`,
			wantCode: 400,
			wantErr:  "bad Content-Type",
		},
		{
			name:     "malformed json",
			req:      slCase{method: "POST", header: form("application/json"), body: `{"a": `},
			src:      `request.json`,
			wantCode: 400,
			wantErr:  "request.json",
		},
		{
			// Deep nesting would overflow the stack of json.decode and
			// kill the process; it is refused before decoding.
			name:     "json nested too deeply",
			req:      slCase{method: "POST", header: form("application/json"), body: strings.Repeat("[", 2<<20)},
			src:      `request.json`,
			wantCode: 400,
			wantErr:  "nested more than 512 levels",
		},
		{
			name:     "json too large",
			req:      slCase{method: "POST", header: form("application/json"), body: `["` + strings.Repeat("x", 500) + `"]`, setup: limit(100)},
			src:      `request.json`,
			wantCode: 413,
		},
		{
			name: "attribute that needs a hook",
			req: slCase{setup: func(r *Request) {
				r.Website.registry.RequestAttr("session", "trembling.session:inbound")
			}},
			src:     `request.session`,
			wantErr: "request.session needs the hook trembling.session:inbound in hooks.conf",
		},
		{name: "unknown attribute", src: `request.sesion`, wantErr: "request has no .sesion attribute"},
		{name: "cookie is frozen", req: slCase{header: http.Header{"Cookie": {"a=1"}}}, src: `request.cookie["b"] = "2"`, wantErr: "frozen"},
		{name: "request is unhashable", src: `{request: 1}`, wantErr: "unhashable type: request"},
		{name: "request is read-only", src: `request.method = "POST"`, wantErr: "can't assign to .method field of request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSLRequest(t, tt.req)
			_, err := execSL(r, tt.src, nil)
			if err == nil {
				t.Fatal("no error")
			}
			var evalErr *starlark.EvalError
			if !errors.As(err, &evalErr) {
				t.Fatalf("error %T is not a *starlark.EvalError: %v", err, err)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			var resp *Response
			found := errors.As(err, &resp)
			if tt.wantCode == 0 {
				if found {
					t.Fatalf("error %q wraps a response (code %d)", err, resp.Code)
				}
				return
			}
			if !found {
				t.Fatalf("error %q wraps no *Response", err)
			}
			if resp != r.Response {
				t.Error("the response in the error is not the request's response")
			}
			if resp.Code != tt.wantCode {
				t.Errorf("code = %d, want %d", resp.Code, tt.wantCode)
			}
			for k, want := range tt.wantHeader {
				if diff := cmp.Diff(want, resp.Header.Values(k)); diff != "" {
					t.Errorf("header %s (-want +got):\n%s", k, diff)
				}
			}
			if got := string(resp.Body); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
		})
	}
}

func TestStarlarkResponse(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		want       string // repr of result, when set
		wantCode   int
		wantBody   string
		wantValue  string // repr of Response.value, "" for nil
		wantHeader http.Header
	}{
		{name: "defaults", src: `result = [response.code, response.body, response.request.method]`, want: `[200, None, "GET"]`, wantCode: 200},
		{name: "code", src: "response.code = 201\nresult = response.code", want: `201`, wantCode: 201},
		{name: "str body", src: "response.body = 'héllo'\nresult = response.body", want: `"héllo"`, wantCode: 200, wantBody: "héllo"},
		{name: "bytes body", src: "response.body = b'raw'", wantCode: 200, wantBody: "raw"},
		{
			name:      "value body",
			src:       "response.body = {'a': [1, 2]}\nresponse.body['b'] = True\nresult = response.body",
			want:      `{"a": [1, 2], "b": True}`,
			wantCode:  200,
			wantValue: `{"a": [1, 2], "b": True}`,
		},
		{name: "str replaces value", src: "response.body = [1]\nresponse.body = 'x'", wantCode: 200, wantBody: "x"},
		{name: "None clears body", src: "response.body = 'x'\nresponse.body = None\nresult = response.body", want: `None`, wantCode: 200},
		{
			name: "headers",
			src: `h = response.headers
h.set("X-A", "1")
h.add("x-a", "2")
h.set("X-B", "b")
h.delete("x-b")
h.set("X-Tab", "a\tb")
result = [h.get("x-a"), h.one("X-A"), h.all("X-A"), "X-A" in h, "X-B" in h, h.get("nope"), h.one("nope", "d")]`,
			want:       `["1", "1", ["1", "2"], True, False, None, "d"]`,
			wantCode:   200,
			wantHeader: http.Header{"X-A": {"1", "2"}, "X-Tab": {"a\tb"}},
		},
		{
			name:       "set_cookie defaults",
			src:        `response.set_cookie("sid", "abc")`,
			wantCode:   200,
			wantHeader: http.Header{"Set-Cookie": {"sid=abc; Path=/; HttpOnly; SameSite=Lax"}},
		},
		{
			name:       "set_cookie everything",
			src:        `response.set_cookie("t", "v w", max_age=60, path="/app", domain="example.com", secure=True, httponly=False, samesite="strict")`,
			wantCode:   200,
			wantHeader: http.Header{"Set-Cookie": {`t="v w"; Path=/app; Domain=example.com; Max-Age=60; Secure; SameSite=Strict`}},
		},
		{
			name:       "set_cookie deletes",
			src:        `response.set_cookie("t", "", max_age=0, samesite=None)`,
			wantCode:   200,
			wantHeader: http.Header{"Set-Cookie": {"t=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly"}},
		},
		{
			name:       "set_cookie SameSite None",
			src:        "response.set_cookie('a', '1', secure=True, samesite='None')\nresponse.set_cookie('b', '2')",
			wantCode:   200,
			wantHeader: http.Header{"Set-Cookie": {"a=1; Path=/; HttpOnly; Secure; SameSite=None", "b=2; Path=/; HttpOnly; SameSite=Lax"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSLRequest(t, slCase{})
			globals, err := execSL(r, tt.src, nil)
			if err != nil {
				t.Fatalf("exec: %v", err)
			}
			if tt.want != "" {
				if got := globals["result"].String(); got != tt.want {
					t.Errorf("result\n got %s\nwant %s", got, tt.want)
				}
			}
			resp := r.Response
			if resp.Code != tt.wantCode {
				t.Errorf("code = %d, want %d", resp.Code, tt.wantCode)
			}
			if got := string(resp.Body); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			gotValue := ""
			if resp.value != nil {
				gotValue = resp.value.String()
			}
			if gotValue != tt.wantValue {
				t.Errorf("value = %s, want %s", gotValue, tt.wantValue)
			}
			want := tt.wantHeader
			if want == nil {
				want = http.Header{}
			}
			if diff := cmp.Diff(want, resp.Header); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStarlarkResponseErrors(t *testing.T) {
	tests := []struct {
		src     string
		wantErr string
	}{
		{`response.code = 99`, "response.code: status code 99 is not in 100..599"},
		{`response.code = 600`, "not in 100..599"},
		{`response.code = "200"`, "response.code: "},
		{`response.nope = 1`, "can't assign to .nope field of response"},
		{`response.headers.set("Bad Name", "x")`, "invalid header name"},
		{`response.headers.set("", "x")`, "invalid header name"},
		{`response.headers.add("X-A", "a\nb")`, "invalid value for header"},
		{`response.headers.set("X-A", 1)`, "for parameter value"},
		{`response.set_cookie("bad name", "v")`, "invalid Cookie.Name"},
		{`response.set_cookie("a", "v;x")`, "invalid byte"},
		{`response.set_cookie("a", "v", path="/a;b")`, "invalid byte"},
		{`response.set_cookie("a", "v", samesite="None")`, `samesite="None" needs secure=True`},
		{`response.set_cookie("a", "v", samesite="bogus")`, "samesite must be"},
		{`response.set_cookie("a", "v", domain=1)`, "domain must be str or None"},
		{`response.set_cookie("a", "v", max_age="1")`, "max_age"},
		{`{response: 1}`, "unhashable type: response"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			r := newSLRequest(t, slCase{})
			_, err := execSL(r, tt.src, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			var resp *Response
			if errors.As(err, &resp) {
				t.Errorf("error wraps a response")
			}
			if diff := cmp.Diff(&Response{Code: 200, Header: http.Header{}}, r.Response, cmp.AllowUnexported(Response{})); diff != "" {
				t.Errorf("response changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStarlarkWebsite(t *testing.T) {
	w := &Website{registry: NewRegistry()}
	r := newSLRequest(t, slCase{setup: func(r *Request) { r.Website = w }})

	// During startup, assignments work and values stay mutable.
	globals, err := execSL(r, `website.title = "Todoy"
website.items = [1]
website.items.append(2)
result = [website.title, website.items, hasattr(website, "nope"), dir(website)]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := globals["result"].String(), `["Todoy", [1, 2], False, ["items", "title"]]`; got != want {
		t.Errorf("result = %s, want %s", got, want)
	}
	if v, ok := w.Attr("title"); !ok || v != starlark.String("Todoy") {
		t.Errorf(`w.Attr("title") = %v, %v`, v, ok)
	}
	if w.starlarkValue() != w.starlarkValue() {
		t.Error("Website.starlarkValue returns a new value each time")
	}

	// Startup ends: the values are frozen, assignments refused.
	w.starlarkValue().Freeze()
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()

	for _, tt := range []struct{ src, wantErr string }{
		{`website.title = "x"`, "website.title: the website is read-only after startup"},
		{`website.other = 1`, "website.other: the website is read-only after startup"},
		{`website.items.append(3)`, "frozen"},
		{`website.nope`, "website has no .nope attribute"},
		{`{website: 1}`, "unhashable type: website"},
	} {
		if _, err := execSL(r, tt.src, nil); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v, want one containing %q", tt.src, err, tt.wantErr)
		}
	}
	globals, err = execSL(r, `result = [website.title, website.items]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := globals["result"].String(), `["Todoy", [1, 2]]`; got != want {
		t.Errorf("after startup: result = %s, want %s", got, want)
	}
}

// TestStarlarkWebsiteConcurrent reads the website from many goroutines,
// as parallel requests do; run with -race.
func TestStarlarkWebsiteConcurrent(t *testing.T) {
	w := &Website{registry: NewRegistry()}
	if err := w.SetAttr("title", starlark.String("Todoy")); err != nil {
		t.Fatal(err)
	}
	w.starlarkValue().Freeze()
	w.started = true
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := newSLRequest(t, slCase{setup: func(r *Request) { r.Website = w }})
			globals, err := execSL(r, `result = website.title`, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if globals["result"] != starlark.String("Todoy") {
				t.Errorf("result = %v", globals["result"])
			}
			m, _ := w.starlarkValue().(*websiteValue).TemplateValue().(map[string]any)
			if m["title"] != "Todoy" {
				t.Errorf("template title = %v", m["title"])
			}
		})
	}
	wg.Wait()
}

func TestStarlarkRequestFrom(t *testing.T) {
	r := newSLRequest(t, slCase{method: "DELETE"})
	var fromThread, fromValue *Request
	probe := starlark.NewBuiltin("probe", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var ok bool
		if fromThread, ok = RequestFromThread(thread); !ok {
			return nil, errors.New("no request on the thread")
		}
		if fromValue, ok = requestFromValue(args[0]); !ok {
			return nil, errors.New("argument is not a request")
		}
		return starlark.None, nil
	})
	if _, err := execSL(r, `probe(request)`, starlark.StringDict{"probe": probe}); err != nil {
		t.Fatal(err)
	}
	if fromThread != r || fromValue != r {
		t.Errorf("RequestFromThread = %p, requestFromValue = %p, want %p", fromThread, fromValue, r)
	}
	if _, err := execSL(r, `probe(response)`, starlark.StringDict{"probe": probe}); err == nil || !strings.Contains(err.Error(), "not a request") {
		t.Errorf("requestFromValue(response): error = %v", err)
	}
	if got, ok := RequestFromThread(&starlark.Thread{}); ok || got != nil {
		t.Errorf("RequestFromThread(empty thread) = %v, %v", got, ok)
	}
	if got, ok := RequestFromThread(nil); ok || got != nil {
		t.Errorf("RequestFromThread(nil) = %v, %v", got, ok)
	}

	// abort outside a request (a startup hook) is an error, not a panic.
	_, err := starlark.ExecFileOptions(slFileOptions, &starlark.Thread{}, "startup.star", `abort(500)`,
		starlark.StringDict{"abort": abortBuiltin})
	if err == nil || !strings.Contains(err.Error(), "not called while serving a request") {
		t.Errorf("abort without request: error = %v", err)
	}
}

func TestStarlarkTemplateValue(t *testing.T) {
	r := newSLRequest(t, slCase{
		method: "POST",
		target: "/2024/notes/?page=2&page=3",
		header: http.Header{"Content-Type": {urlencoded}, "Cookie": {"theme=dark"}},
		body:   "title=Hi&tag=a&tag=b",
		setup: func(r *Request) {
			r.Resource = &Resource{Path: "%year.int/notes/index.spt", Vars: map[string]any{"year": 2024}}
			user := starlark.NewDict(1)
			user.SetKey(starlark.String("username"), starlark.String("<ann>"))
			r.SetAttr("user", user)
			r.SetAttr("authenticated", starlark.True)
			msg := starlark.NewDict(2)
			msg.SetKey(starlark.String("text"), starlark.String("Saved"))
			msg.SetKey(starlark.String("level"), starlark.String("success"))
			r.SetAttr("messages", starlark.NewList([]starlark.Value{msg}))
		},
	})
	r.Response.Header.Set("X-A", "1")
	r.Response.Header.Add("X-A", "2")
	r.Response.Code = 201

	got := r.starlarkValue().(*requestValue).TemplateValue()
	want := map[string]any{
		"method": "POST",
		"GET":    false, "POST": true, "PUT": false, "PATCH": false, "DELETE": false, "HEAD": false, "OPTIONS": false,
		"TRACE": false, "CONNECT": false,
		"version":       "HTTP/1.1",
		"is_xhr":        false,
		"path":          map[string]any{"raw": "/2024/notes/", "year": int64(2024)},
		"qs":            map[string]string{"page": "2"},
		"body":          map[string]string{"title": "Hi", "tag": "a"},
		"cookie":        map[string]string{"theme": "dark"},
		"url":           "http://example.com/2024/notes/?page=2&page=3",
		"host":          "example.com",
		"scheme":        "http",
		"user":          map[string]any{"username": "<ann>"},
		"authenticated": true,
		"messages":      []any{map[string]any{"text": "Saved", "level": "success"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request TemplateValue (-want +got):\n%s", diff)
	}

	// The data works in html/template as docs/starlark.md shows.
	tmpl := template.Must(template.New("t").Parse(
		`{{ .request.user.username }}|{{ range .request.messages }}{{ .text }}/{{ .level }}{{ end }}|{{ .request.path.year }}|{{ .request.body.title }}|{{ if .request.POST }}post{{ end }}|{{ .response.code }}`))
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, map[string]any{
		"request":  got,
		"response": newResponseValue(r).(*responseValue).TemplateValue(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "&lt;ann&gt;|Saved/success|2024|Hi|post|201"; got != want {
		t.Errorf("template = %q, want %q", got, want)
	}

	gotResp := newResponseValue(r).(*responseValue).TemplateValue()
	wantResp := map[string]any{"code": int64(201), "headers": map[string]string{"X-A": "1"}}
	if diff := cmp.Diff(wantResp, gotResp); diff != "" {
		t.Errorf("response TemplateValue (-want +got):\n%s", diff)
	}

	w := r.Website
	if err := w.SetAttr("title", starlark.String("Todoy")); err != nil {
		t.Fatal(err)
	}
	if err := w.SetAttr("limits", starlark.NewList([]starlark.Value{starlark.MakeInt(1)})); err != nil {
		t.Fatal(err)
	}
	gotSite := w.starlarkValue().(*websiteValue).TemplateValue()
	wantSite := map[string]any{"title": "Todoy", "limits": []any{int64(1)}}
	if diff := cmp.Diff(wantSite, gotSite); diff != "" {
		t.Errorf("website TemplateValue (-want +got):\n%s", diff)
	}
}

// TestStarlarkTemplateValueBadBody checks that building the template data
// of a request whose body cannot be parsed leaves the body empty and the
// response alone; only Starlark code that reads the body gets the 413.
func TestStarlarkTemplateValueBadBody(t *testing.T) {
	r := newSLRequest(t, slCase{
		method: "POST",
		header: form(urlencoded),
		body:   "a=" + strings.Repeat("x", 500),
		setup:  func(r *Request) { r.Body = http.MaxBytesReader(nil, r.Body, 10) },
	})
	m := r.starlarkValue().(*requestValue).TemplateValue().(map[string]any)
	if diff := cmp.Diff(map[string]string{}, m["body"]); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if r.Response.Code != http.StatusOK {
		t.Errorf("code = %d after TemplateValue", r.Response.Code)
	}
	_, err := execSL(r, `request.body`, nil)
	var resp *Response
	if !errors.As(err, &resp) || resp.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("request.body after TemplateValue: error %v", err)
	}
}

func BenchmarkStarlarkRequestTemplateValue(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := newSLRequest(b, slCase{target: "/notes/?page=2", header: http.Header{"Cookie": {"session_key=abc"}}, setup: func(r *Request) {
			r.SetAttr("authenticated", starlark.False)
			r.SetAttr("messages", starlark.NewList(nil))
		}})
		_ = r.starlarkValue().(*requestValue).TemplateValue()
	}
}
