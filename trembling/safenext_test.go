package trembling_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestSafeNextBody: on a POST, safe_next reads next from the form body
// (parsing it itself when the page has not), falls back to the query
// string for a body that is no form, and ends the request with 400 for a
// form body it cannot parse.
func TestSafeNextBody(t *testing.T) {
	t.Parallel()
	s := startAuthSite(t)
	c := newClient(t, s.testSite)
	for _, tc := range []struct {
		name        string
		path        string
		form        url.Values
		contentType string
		wantCode    int
		wantBody    string
	}{
		{"form body", "/next.txt?next=/query/", url.Values{"next": {"/form/"}}, "", http.StatusOK, "/form/"},
		{"unsafe in the form", "/next.txt", url.Values{"next": {"//evil.example"}}, "", http.StatusOK, "/dflt/"},
		{"JSON body", "/next.txt?next=/query/", url.Values{"next": {"/form/"}}, "application/json", http.StatusOK, "/query/"},
		{"malformed multipart", "/next.txt", url.Values{"next": {"/form/"}}, "multipart/form-data", http.StatusBadRequest, ""},
	} {
		var h http.Header
		if tc.contentType != "" {
			h = http.Header{"Content-Type": {tc.contentType}}
		}
		r := doHeader(t, c, s.testSite, http.MethodPost, tc.path, tc.form, h)
		if r.code != tc.wantCode || tc.wantCode == http.StatusOK && r.body != tc.wantBody {
			t.Errorf("%s: %d %q; want %d %q", tc.name, r.code, r.body, tc.wantCode, tc.wantBody)
		}
	}
}
