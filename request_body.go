package aspengo

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// maxFormMemory is how much of a multipart body is kept in memory; file
// parts beyond it go to temporary files, removed when the request ends.
const maxFormMemory = 8 << 20

// maxJSONBody caps a JSON body when the pipeline set no smaller limit.
const maxJSONBody = 10 << 20

// requestBody is what a request's body parsed into. The body can be read
// only once, so each form is kept after the first call.
type requestBody struct {
	formParsed bool
	form       url.Values
	files      map[string][]*multipart.FileHeader
	formErr    error

	jsonRead bool
	isJSON   bool
	json     []byte
	jsonErr  error
}

// Form returns the values of a url-encoded or multipart form body,
// parsed on first use (the same values Starlark code sees as
// request.body). A body of any other content type, or none, gives no
// values and no error. A body over the limit set by the pipeline gives an
// error for which errors.As finds an *http.MaxBytesError, or which is
// multipart.ErrMessageTooLarge; a malformed one any other error.
func (r *Request) Form() (url.Values, error) {
	if !r.body.formParsed {
		r.body.formParsed = true
		r.body.formErr = r.parseForm()
	}
	return r.body.form, r.body.formErr
}

// FormFile returns the first file uploaded as name in a multipart form
// body, or nil when there is none. Its error is that of Form.
func (r *Request) FormFile(name string) (*multipart.FileHeader, error) {
	if _, err := r.Form(); err != nil {
		return nil, err
	}
	if fhs := r.body.files[name]; len(fhs) > 0 {
		return fhs[0], nil
	}
	return nil, nil
}

// parseForm parses a form body into r.body.
func (r *Request) parseForm() error {
	if r.Body == nil {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("bad Content-Type: %w", err)
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
	case "multipart/form-data":
		err = r.ParseMultipartForm(maxFormMemory)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	r.body.form = r.PostForm
	if r.MultipartForm != nil {
		r.body.files = r.MultipartForm.File
	}
	return nil
}

// JSON returns the raw body when its Content-Type is application/json or
// ends in +json, read on first use; isJSON is false, and body nil, for
// any other content type. A body over 10 MiB, or over the limit set by
// the pipeline, gives an error for which BodyTooLarge reports true.
func (r *Request) JSON() (body []byte, isJSON bool, err error) {
	if !r.body.jsonRead {
		r.body.jsonRead = true
		r.body.json, r.body.isJSON, r.body.jsonErr = r.readJSON()
	}
	return r.body.json, r.body.isJSON, r.body.jsonErr
}

func (r *Request) readJSON() ([]byte, bool, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || r.Body == nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, true, err
	}
	if len(data) > maxJSONBody {
		return nil, true, errJSONTooLarge
	}
	return data, true, nil
}

// errJSONTooLarge is the error of a JSON body over maxJSONBody.
var errJSONTooLarge = fmt.Errorf("body over %d bytes", maxJSONBody)

// BodyTooLarge reports whether err, from Form, FormFile or JSON, says
// that the body was over its limit (a 413 rather than a 400).
func BodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, multipart.ErrMessageTooLarge) || errors.Is(err, errJSONTooLarge)
}
