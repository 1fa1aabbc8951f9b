package aspengo

import (
	"net/http"
)

// Request is one request on its way through the pipeline. It embeds the
// *http.Request; hooks and simplates add to it.
type Request struct {
	*http.Request

	// Website is the site serving the request.
	Website *Website
	// Response is the response being built; outbound hooks see the final one.
	Response *Response
	// Resource is the file the URL path resolved to, nil before dispatch.
	Resource *Resource
}

// Response is the answer to a request. It is also an error: a hook or
// simplate that returns one ends the request with it, as Aspen's
// "raise Response" did.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r *Response) Error() string { return http.StatusText(r.Code) }
