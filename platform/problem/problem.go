// Package problem is the service's one error shape on the wire: RFC 9457 problem details,
// written as application/problem+json. Modules describe their errors as a *Problem; the HTTP
// server renders every error, its own and ogen's, through here.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem.
const ContentType = "application/problem+json"

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem. It is also an error, so handlers can return it.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Instance is the request's path, and RequestID its id (X-Request-Id): every problem
	// carries both, to find the occurrence in the logs.
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Headers are response headers that belong with the problem (Retry-After with a 429,
	// WWW-Authenticate with a 401).
	Headers map[string]string `json:"-"`
}

// Error implements error.
func (p *Problem) Error() string {
	return strconv.Itoa(p.Status) + " " + p.Title + ": " + p.Detail
}

// New returns a problem of the status with the standard title and type about:blank, which
// RFC 9457 reserves for problems that need no more than their status to be understood.
func New(status int, detail string, fields ...FieldError) *Problem {
	return &Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Errors: fields,
	}
}

// Write sends p as the response to r, with the request's path as its instance (unless p has
// one) and the request id the response carries.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.RequestID == "" {
		p.RequestID = w.Header().Get("X-Request-Id")
	}
	body, err := json.Marshal(p)
	if err != nil {
		// A Problem holds only strings and ints: marshalling cannot fail.
		panic(err)
	}
	h := w.Header()
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// Mapper turns errors a module knows into problems; it reports false for any other error.
// Modules contribute mappers through the "problem_mappers" fx value group.
type Mapper func(err error) (*Problem, bool)
