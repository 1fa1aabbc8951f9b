package aspengo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bodyRequest returns a POST request with body and Content-Type ct whose
// body is limited to limit bytes, as the pipeline limits it.
func bodyRequest(ct, body string, limit int64) *Request {
	hr := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	hr.Body = http.MaxBytesReader(httptest.NewRecorder(), hr.Body, limit)
	return &Request{Request: hr}
}

func TestRequestForm(t *testing.T) {
	multi, multiCT := multipartBody(t)
	tests := []struct {
		name     string
		ct, body string
		limit    int64
		want     url.Values
		wantErr  bool
		tooLarge bool
	}{
		{"url-encoded", "application/x-www-form-urlencoded", "a=1&a=2&b=x", 1 << 20, url.Values{"a": {"1", "2"}, "b": {"x"}}, false, false},
		{"multipart", multiCT, multi, 1 << 20, url.Values{"note": {"hello", "again"}}, false, false},
		{"no content type", "", "a=1", 1 << 20, nil, false, false},
		{"other content type", "text/plain", "a=1", 1 << 20, nil, false, false},
		{"bad content type", "multipart/form-data; boundary=", "x", 1 << 20, nil, true, false},
		{"over the limit", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", 100), 10, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bodyRequest(tt.ct, tt.body, tt.limit)
			form, err := r.Form()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Form() error = %v, want error %v", err, tt.wantErr)
			}
			if got := BodyTooLarge(err); got != tt.tooLarge {
				t.Errorf("BodyTooLarge(%v) = %v, want %v", err, got, tt.tooLarge)
			}
			if diff := cmp.Diff(tt.want, form); diff != "" {
				t.Errorf("Form() (-want +got):\n%s", diff)
			}
			// The body is read once; a second call gives the same.
			form2, err2 := r.Form()
			if diff := cmp.Diff(form, form2); diff != "" || (err == nil) != (err2 == nil) {
				t.Errorf("second Form() differs: %v, %s", err2, diff)
			}
		})
	}
}

func TestRequestFormFile(t *testing.T) {
	body, ct := multipartBody(t)
	r := bodyRequest(ct, body, 1<<20)
	fh, err := r.FormFile("upload")
	if err != nil || fh == nil {
		t.Fatalf("FormFile(upload) = %v, %v", fh, err)
	}
	if fh.Filename != "report.txt" || fh.Size != int64(len("file contents\n")) {
		t.Errorf("FormFile(upload) = %q, %d bytes", fh.Filename, fh.Size)
	}
	if fh, err := r.FormFile("nosuch"); fh != nil || err != nil {
		t.Errorf("FormFile(nosuch) = %v, %v; want nil, nil", fh, err)
	}
	r.release()
}

func TestRequestJSON(t *testing.T) {
	tests := []struct {
		name     string
		ct, body string
		limit    int64
		want     string
		isJSON   bool
		tooLarge bool
	}{
		{"json", "application/json", `{"a": 1}`, 1 << 20, `{"a": 1}`, true, false},
		{"+json", "application/problem+json; charset=utf-8", `[1]`, 1 << 20, `[1]`, true, false},
		{"not json", "application/x-www-form-urlencoded", `a=1`, 1 << 20, "", false, false},
		{"over the pipeline's limit", "application/json", `"` + strings.Repeat("x", 100) + `"`, 10, "", true, true},
		{"over the JSON limit", "application/json", strings.Repeat(" ", maxJSONBody+1), maxJSONBody + 100, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bodyRequest(tt.ct, tt.body, tt.limit)
			body, isJSON, err := r.JSON()
			if isJSON != tt.isJSON || string(body) != tt.want || BodyTooLarge(err) != tt.tooLarge || (err != nil) != tt.tooLarge {
				t.Errorf("JSON() = %q, %v, %v; want %q, %v, too large %v", body, isJSON, err, tt.want, tt.isJSON, tt.tooLarge)
			}
		})
	}
}
