package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator holds the running service to openapi.yaml independently of the generated code: an
// http.RoundTripper that validates every request and response with kin-openapi and reports
// violations as test errors, so a test passes only when both the server and the ogen client
// honour the contract as written.
type Validator struct {
	t        testing.TB
	doc      *openapi3.T
	router   routers.Router
	next     http.RoundTripper
	requests bool
}

// LoadSpec parses the spec at path with its servers replaced by baseURL, the server under test.
func LoadSpec(t testing.TB, path, baseURL string) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	return doc
}

// NewValidator returns a Validator that checks requests and responses against doc.
func NewValidator(t testing.TB, doc *openapi3.T) *Validator {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	// A transport of its own, closed with the test: a connection the client dialed but never
	// used would otherwise hold up the server's graceful shutdown for five seconds.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	return &Validator{t: t, doc: doc, router: router, next: transport, requests: true}
}

// ResponsesOnly returns a copy that checks only responses: for tests that send invalid
// requests on purpose.
func (v *Validator) ResponsesOnly() *Validator {
	c := *v
	c.requests = false
	return &c
}

// Client returns an HTTP client using v.
func (v *Validator) Client() *http.Client { return &http.Client{Transport: v} }

// RoundTrip sends req and validates both sides.
func (v *Validator) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, routeErr := v.router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		in = &openapi3filter.RequestValidationInput{
			Request:    req.Clone(req.Context()),
			PathParams: params,
			Route:      route,
			Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
		}
		in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
		if v.requests {
			if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
				v.t.Errorf("request %s %s breaks openapi.yaml: %v", req.Method, req.URL.Path, err)
			}
		}
	} else if v.requests {
		v.t.Errorf("request %s %s has no operation in openapi.yaml: %v", req.Method, req.URL.Path, routeErr)
	}

	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	if in == nil {
		// No operation matches (unknown path or method): the body must still be a Problem.
		v.checkProblem(req, resp, body)
		return resp, nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.t.Errorf("response %d to %s %s breaks openapi.yaml: %v\nbody: %s", resp.StatusCode, req.Method, req.URL.Path, err, body)
	}
	return resp, nil
}

func (v *Validator) checkProblem(req *http.Request, resp *http.Response, body []byte) {
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		v.t.Errorf("response %d to %s %s: content type %q, want application/problem+json", resp.StatusCode, req.Method, req.URL.Path, ct)
		return
	}
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		v.t.Errorf("response to %s %s: %v", req.Method, req.URL.Path, err)
		return
	}
	if err := v.doc.Components.Schemas["Problem"].Value.VisitJSON(decoded); err != nil {
		v.t.Errorf("response to %s %s is not a Problem: %v\nbody: %s", req.Method, req.URL.Path, err, body)
	}
}
