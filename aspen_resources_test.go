package aspengo

// Aspen 0.14.4's tests/test_resources.py, test_json_resources.py,
// test_website.py, test_request.py and test_mappings.py, ported: each
// fixture of testdata/aspen/{resources,json,website,request} is a site
// written as the Aspen test writes it (page breaks as form feeds where
// Aspen has them), with Go templates for Aspen's Tornado templates and
// Starlark for its Python.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAspenResources(t *testing.T) {
	tests := []struct {
		aspen   string
		fixture string // under testdata/aspen
		path    string // "/" when empty
		code    int
		ctype   string // a prefix of Content-Type, when checked
		header  [2]string
		body    string // exact, or after TrimSpace when trim
		trim    bool
		json    string // the body, compared as JSON
		skip    string
	}{
		// test_resources.py
		{aspen: "test_barely_working", fixture: "resources/barely", code: 200, ctype: "text/html", body: "Greetings, program!"},
		{aspen: "test_resource_pages_work", fixture: "resources/pages", code: 200, body: "Greetings, bar!"},
		{aspen: "test_resource_pages_work_with_caret_L", fixture: "resources/caret", code: 200, body: "Greetings, bar!",
			skip: "^L is a page break only on a line of its own (a form feed is one anywhere): the two characters ^L are ordinary text in a Starlark string or a template"},
		{aspen: "test_resource_pages_work_with_caret_L (aspengo, ^L on its own line)", fixture: "resources/caretline", code: 200, body: "Greetings, bar!"},
		{aspen: "test_resource_pages_work_with_caret_L (aspengo, mid-line)", fixture: "resources/caret", code: 200, body: "foo = 'bar'^LGreetings, {{ .foo }}!"},
		{aspen: "test_resource_templating_set", fixture: "resources/set", code: 200, body: "1, 2, 3, 4", trim: true},
		{aspen: "test_tornado_utf8_works_without_whitespace", skip: "about Aspen's Tornado template engine, which aspengo does not have"},
		{aspen: "test_tornado_utf8_breaks_with_whitespace", skip: "about Aspen's Tornado template engine, which aspengo does not have"},
		{aspen: "test_utf8", fixture: "resources/utf8", code: 200, body: "\u06de", trim: true},
		{aspen: "test_resources_dont_leak_whitespace", fixture: "resources/whitespace", code: 200, body: "[1, 2, 3, 4]"},
		{aspen: "test_content_type_is_right_in_template_doc_unicode_example", fixture: "resources/latin1", code: 200, ctype: "text/plain; charset=latin1"},
		{aspen: "test_body_is_right_in_template_doc_unicode_example", fixture: "resources/latin1", code: 200, body: "\xb5"},
		{aspen: "test_raise_response_works", fixture: "resources/raise", code: 404},
		{aspen: "test_website_is_in_namespace", fixture: "resources/website3", code: 200, body: "It worked.",
			skip: "the run-once page runs when the file is compiled, which aspengo check does without running startup hooks, and its globals are shared by every request; website is what startup hooks set, so only the per-request page and the template see it"},
		{aspen: "test_website_is_in_namespace (aspengo, per-request page)", fixture: "resources/website2", code: 200, body: "It worked."},
		{aspen: "test_unknown_mimetype_yields_default_mimetype", fixture: "resources/mimetype", path: "/foo.flugbaggity", code: 200, ctype: "text/plain"},
		{aspen: "test_unknown_mimetype_yields_default_mimetype (HTML inside)", fixture: "resources/mimetypehtml", path: "/upload.flugbaggity", code: 200, ctype: "text/plain"},
		{aspen: "test_unknown_mimetype_yields_default_mimetype (no extension)", fixture: "resources/mimetypehtml", path: "/README", code: 200, ctype: "text/plain"},
		{aspen: "test_templating_skipped_without_script", fixture: "resources/noscript", code: 200, body: "{{ foo }}"},

		// test_json_resources.py
		{aspen: "test_json_basically_works", fixture: "json/dynamic", path: "/foo.json", code: 200, json: `{"Greetings": "program!"}`},
		{aspen: "test_json_cant_have_more_than_one_page_break", fixture: "json/toomany", path: "/foo.json", code: 500},
		{aspen: "test_json_defaults_to_application_json_for_static_json", fixture: "json/static", path: "/foo.json", code: 200, ctype: "application/json", json: `{"Greetings": "program!"}`},
		{aspen: "test_json_defaults_to_application_json_for_dynamic_json", fixture: "json/dynamic", path: "/foo.json", code: 200, ctype: "application/json"},
		{aspen: "test_json_content_type_is_configurable_for_static_json", skip: "aspengo reads no aspen.conf (json_content_type); a page sets its own with response.headers"},
		{aspen: "test_json_content_type_is_configurable_for_dynamic_json", skip: "aspengo reads no aspen.conf (json_content_type); a page sets its own with response.headers"},
		{aspen: "test_json_handles_unicode", fixture: "json/unicode", path: "/foo.json", code: 200, json: `{"Greetings": "\u00b5"}`},
		{aspen: "test_json_doesnt_handle_non_ascii_bytestrings", skip: "about Python 2's two string types; Starlark strings are UTF-8"},
		{aspen: "test_json_handles_time", skip: "Starlark has no time-of-day type"},
		{aspen: "test_json_handles_date", skip: "Starlark has no date type"},
		{aspen: "test_json_handles_datetime", fixture: "json/datetime", path: "/foo.json", code: 200, json: `{"timestamp": "2011-05-09T00:00:00Z"}`},
		{aspen: "test_json_handles_complex", skip: "Starlark has no complex numbers"},
		{aspen: "test_json_raises_TypeError_on_unknown_types", fixture: "json/unknown", path: "/foo.json", code: 500},

		// test_website.py
		{aspen: "test_normal_response_is_returned", fixture: "website/normal", code: 200, ctype: "text/html", body: "Greetings, program!"},
		{aspen: "test_fatal_error_response_is_returned", fixture: "website/fatal", code: 500},
		{aspen: "test_nice_error_response_is_returned", fixture: "website/nice500", code: 500},
		{aspen: "test_nice_error_response_is_returned_for_404", fixture: "website/nice404", code: 404},
		{aspen: "test_autoindex_response_is_404_by_default", fixture: "website/autoindex", code: 404},
		{aspen: "test_autoindex_response_is_returned", skip: "there are no directory listings: they would show every file name of the site (and there is no aspen.conf to turn them on)"},
		{aspen: "test_simplates_can_import_from_dot_aspen", fixture: "website/import", code: 200, body: "Greetings, baz!"},
		{aspen: "test_double_failure_still_sets_response_dot_request", fixture: "website/double", code: 500, header: [2]string{"X-Request", "GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			path := tt.path
			if path == "" {
				path = "/"
			}
			resp := aspenDo(t, filepath.Join("testdata", "aspen", tt.fixture), httptest.NewRequest(http.MethodGet, path, nil))
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tt.code {
				t.Fatalf("GET %s: status %d, want %d; body:\n%s", path, resp.StatusCode, tt.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); tt.ctype != "" && !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
			if tt.header[0] != "" && resp.Header.Get(tt.header[0]) != tt.header[1] {
				t.Errorf("%s: %q, want %q", tt.header[0], resp.Header.Get(tt.header[0]), tt.header[1])
			}
			if tt.trim {
				body = strings.TrimSpace(body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if tt.json != "" {
				var got, want any
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("body %q: %v", b, err)
				}
				if err := json.Unmarshal([]byte(tt.json), &want); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("JSON (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestAspenRequest ports test_request.py and test_mappings.py: what a
// page sees of the request.
func TestAspenRequest(t *testing.T) {
	tests := []struct {
		aspen  string
		method string
		target string
		header http.Header
		form   url.Values
		code   int
		want   map[string]any // fields of the page's JSON, when 200
		skip   string
	}{
		{aspen: "test_blank_by_default", skip: "about Aspen's Request constructor; every request aspengo serves has a version"},
		{aspen: "test_hydrate_can_hydrate", code: 200, want: map[string]any{"version": "HTTP/1.1"}},
		{aspen: "test_allow_default_method_is_GET", code: 200, want: map[string]any{"method": "GET"}},
		{aspen: "test_allow_allows_allowed", target: "/page.json?allow=GET", code: 200},
		{aspen: "test_allow_disallows_disallowed", target: "/page.json?allow=POST", code: 405},
		{aspen: "test_allow_can_handle_lowercase", target: "/page.json?allow=post", code: 405},
		{aspen: "test_allow_can_handle_lowercase (allowed)", target: "/page.json?allow=get", code: 200},
		{aspen: "test_methods_start_with_GET", code: 200, want: map[string]any{"methods": []any{"GET"}}},
		{aspen: "test_methods_changing_changes", method: http.MethodPost, code: 200, want: map[string]any{"methods": []any{"POST"}}},
		{aspen: "test_is_xhr_false", code: 200, want: map[string]any{"is_xhr": false}},
		{aspen: "test_is_xhr_true", header: http.Header{"X-Requested-With": {"XmlHttpRequest"}}, code: 200, want: map[string]any{"is_xhr": true}},
		{aspen: "test_is_xhr_is_case_insensitive", header: http.Header{"X-Requested-With": {"xMLhTTPrEQUEST"}}, code: 200, want: map[string]any{"is_xhr": true}},
		{aspen: "test_headers_one_gets_a_value", header: http.Header{"Foo": {"Bar"}}, code: 200, want: map[string]any{"foo": "Bar"}},
		{aspen: "test_headers_one_gets_first_value", header: http.Header{"Foo": {"Bar", "Baz"}}, code: 200, want: map[string]any{"foo": "Bar", "foo_all": []any{"Bar", "Baz"}}},
		{aspen: "test_headers_one_is_case_insensitive (test_mappings: test_headers_are_case_insensitive)", header: http.Header{"Foo": {"bar"}}, code: 200, want: map[string]any{"foo": "bar"}},
		{aspen: "test_wwwform_basically_works", method: http.MethodPost, form: url.Values{"Foo": {"bar"}}, code: 200, want: map[string]any{"form": "bar"}},
		{aspen: "test_wwwform_is_case_sensitive", method: http.MethodPost, form: url.Values{"Foo": {"bar"}}, code: 200, want: map[string]any{"form_lower": "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			method, target := tt.method, tt.target
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = "/page.json"
			}
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req := httptest.NewRequest(method, target, body)
			if tt.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			resp := aspenDo(t, filepath.Join("testdata", "aspen", "request", "site"), req)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.code, b)
			}
			if tt.want == nil {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("body %q: %v", b, err)
			}
			for k, want := range tt.want {
				if diff := cmp.Diff(want, got[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}
