package httpserver

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/docs"
	"github.com/acme/userservice/platform/metrics"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
	"github.com/acme/userservice/platform/reqctx"
)

// Handler composes the modules' implementations of the operation groups of openapi.yaml into
// the one oas.Handler the generated server needs. The list of groups is generated from the
// contract (groups_gen.go); a module that is not in the application leaves its group absent,
// and its operations answer 404.
type Handler struct {
	groups

	absent   map[string]bool
	problems *Problems
}

var _ oas.Handler = (*Handler)(nil)

// HandlerParams are the operation groups and the error mapping NewHandler composes.
type HandlerParams struct {
	fx.In
	Groups   GroupParams
	Problems *Problems
}

// NewHandler returns the composed handler.
func NewHandler(p HandlerParams) *Handler {
	g, absent := p.Groups.compose()
	return &Handler{groups: g, absent: absent, problems: p.Problems}
}

// NewError renders any error a module's handler returns as a problem (ogen's convenient
// errors: every operation's default response is a Problem).
func (h *Handler) NewError(ctx context.Context, err error) *oas.ErrorStatusCode {
	p := h.problems.FromError(ctx, err)
	var fields []oas.FieldError // nil, not empty: ogen then omits "errors"
	for _, f := range p.Errors {
		fields = append(fields, oas.FieldError{Field: f.Field, Message: f.Message})
	}
	setResponseHeaders(ctx, p.Headers)
	resp := oas.Problem{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Errors: fields,
		Instance: p.Instance, RequestID: p.RequestID}
	if info := reqctx.From(ctx); info != nil {
		resp.Instance, resp.RequestID = info.Path, info.ID
	}
	return &oas.ErrorStatusCode{StatusCode: p.Status, Response: resp}
}

// HTTPHandlerParams are the inputs of NewHTTPHandler.
type HTTPHandlerParams struct {
	fx.In
	Handler  *Handler
	Security *BearerAuth
	Problems *Problems
	Log      *zap.Logger
	Config   config.Config
	Metrics  *metrics.HTTP
	Gatherer prometheus.Gatherer
	Tracer   trace.TracerProvider
	// Propagator reads the caller's trace context (traceparent).
	Propagator propagation.TextMapPropagator
}

// NewHTTPHandler returns the service's HTTP handler: GET /metrics, and the generated server
// behind the platform's middleware for everything else. Security verifies the bearer tokens of
// the operations openapi.yaml protects.
func NewHTTPHandler(p HTTPHandlerParams) (http.Handler, error) {
	srv, err := oas.NewServer(p.Handler, p.Security,
		oas.WithErrorHandler(p.Problems.ErrorHandler),
		oas.WithNotFound(notFound),
		oas.WithMethodNotAllowed(func(w http.ResponseWriter, r *http.Request, allowed string) {
			allowed = withHead(allowed)
			w.Header().Set("Allow", allowed)
			problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allowed+"."))
		}),
	)
	if err != nil {
		return nil, err
	}
	o := &observation{
		// The request line's caller would always be this middleware, and finding it walks the
		// stack on every request.
		log:        p.Log.WithOptions(zap.WithCaller(false)),
		metrics:    p.Metrics,
		tracer:     p.Tracer.Tracer("github.com/acme/userservice/platform/httpserver"),
		tracing:    !isNoop(p.Tracer),
		propagator: p.Propagator,
		route:      routeOf(srv),
		timeout:    p.Config.RequestTimeout,
	}
	metricsHandler := promhttp.HandlerFor(p.Gatherer, promhttp.HandlerOpts{})
	var docsHandler http.Handler
	if p.Config.DocsEnabled {
		if docsHandler, err = docs.New(userservice.OpenAPI, p.Handler.absent); err != nil {
			return nil, err
		}
	}
	api := o.chain(withCORS(p.Config.CORSAllowedOrigins, beforeServer(srv, p.Handler.absent)))
	// Not an http.ServeMux: it would "clean" odd paths with HTML redirects, where the API
	// answers every unknown path with a problem.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && p.Config.MetricsAddr == "" {
			metricsHandler.ServeHTTP(w, r)
			return
		}
		if docsHandler != nil && docs.Serves(r.URL.Path) {
			docsHandler.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}

// routeOf returns a function naming the route template a request matched, for logs: templates
// keep the set of values small, raw paths would not.
func routeOf(srv *oas.Server) func(*http.Request) string {
	return func(r *http.Request) string {
		if route, ok := srv.FindPath(methodOf(r), r.URL); ok {
			return route.PathPattern()
		}
		return "unmatched"
	}
}

// methodOf is the method whose operation answers r: GET's for HEAD. RFC 9110 (9.3.2) has a
// server answer HEAD as it would GET, without the content; the contract, as is usual, lists
// only the GET, and the generated router would answer HEAD 405.
func methodOf(r *http.Request) string {
	if r.Method == http.MethodHead {
		return http.MethodGet
	}
	return r.Method
}

// asGet returns the GET request a HEAD request is answered as. net/http's ResponseWriter
// still knows the request was HEAD, and sends the headers GET's response would have (its
// Content-Length included) with no content.
func asGet(r *http.Request) *http.Request {
	get := *r
	get.Method = http.MethodGet
	return &get
}

// withHead adds HEAD to the methods of an Allow header that has GET.
func withHead(allowed string) string {
	methods := strings.Split(allowed, ",")
	for _, m := range methods {
		if strings.TrimSpace(m) == http.MethodGet {
			return allowed + "," + http.MethodHead
		}
	}
	return allowed
}

// notFound answers a path no operation of the application serves.
func notFound(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusNotFound, "No route for "+r.Method+" "+r.URL.Path+"."))
}

// withCORS lets the browser applications of origins call the API (CORS_ALLOWED_ORIGINS):
// rs/cors answers their preflight requests and adds the CORS headers to the responses. Tokens
// travel in the Authorization header, never in cookies, so credentials are not allowed. With
// no origin configured, next is returned unchanged and browsers keep the same-origin policy.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", requestIDHeader, "Traceparent"},
		MaxAge:         600,
	})
	return c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&exposing{ResponseWriter: w}, r)
	}))
}

// exposedHeaders are the response headers a browser application may read. ogen sets
// Access-Control-Expose-Headers itself to the one header an operation documents, replacing
// any list set before it, so the list is set when the response's header is written.
const exposedHeaders = "X-Request-Id, Location, Retry-After, WWW-Authenticate"

// exposing sets Access-Control-Expose-Headers on the responses to allowed origins.
type exposing struct {
	http.ResponseWriter
	wrote bool
}

func (e *exposing) WriteHeader(code int) {
	if !e.wrote {
		e.wrote = true
		if h := e.Header(); h.Get("Access-Control-Allow-Origin") != "" {
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
		}
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *exposing) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (e *exposing) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// beforeServer answers, before the generated server authenticates or decodes them: the
// operations of the groups no module provides with 404, as if they were not in the contract
// (an absent module's protected route would otherwise answer 401); and parameters that ogen's
// decoders would take but openapi.yaml does not allow with 400 (strictParams), as well as
// parameters and body strings that are not text (badText). A HEAD request of a GET route goes
// on as that GET (asGet).
func beforeServer(srv *oas.Server, absent map[string]bool) http.Handler {
	strict := strictParams()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := srv.FindPath(methodOf(r), r.URL)
		if !ok {
			srv.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodHead {
			r = asGet(r)
		}
		if absent[route.OperationGroup()] {
			notFound(w, r)
			return
		}
		if checks := strict[route.OperationID()]; len(checks) > 0 {
			if bad, ok := violation(checks, route, r); ok {
				problem.Write(w, r, invalid(bad))
				return
			}
		}
		if p, bad := badText(route, r); bad {
			problem.Write(w, r, p)
			return
		}
		srv.ServeHTTP(w, r)
	})
}

// paramCheck holds one parameter to the contract's exact grammar.
type paramCheck struct {
	name, in string
	valid    func(string) bool
	message  string
}

var (
	canonicalUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// plainInteger is an integer as JSON writes one: no sign but minus, no leading zero.
	plainInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
)

// strictParams returns, by operation id, the checks of the parameters ogen parses more
// liberally than openapi.yaml says: booleans (strconv.ParseBool takes 1, t, T, TRUE…), UUIDs
// (google/uuid takes them without dashes, in braces, or as urn:uuid:…) and integers
// (strconv takes +5 and 05).
func strictParams() map[string][]paramCheck {
	out := map[string][]paramCheck{}
	for op, fields := range operationFields {
		for name, f := range fields {
			c := paramCheck{name: name, in: f.In, message: "must be " + f.expected()}
			switch {
			case f.In == "body":
				continue
			case f.Type == "boolean":
				c.valid = func(v string) bool { return v == "true" || v == "false" }
			case f.Format == "uuid":
				c.valid = canonicalUUID.MatchString
			case f.Type == "integer":
				c.valid = plainInteger.MatchString
			default:
				continue
			}
			out[op] = append(out[op], c)
		}
	}
	return out
}

// violation returns the first parameter of r that breaks its check.
func violation(checks []paramCheck, route oas.Route, r *http.Request) (problem.FieldError, bool) {
	var query url.Values
	for _, c := range checks {
		var values []string
		switch c.in {
		case "query":
			if query == nil {
				query = r.URL.Query()
			}
			values = query[c.name]
		case "path":
			values = pathArg(route, c.name)
		}
		for _, v := range values {
			if !c.valid(v) {
				return problem.FieldError{Field: c.name, Message: c.message}, true
			}
		}
	}
	return problem.FieldError{}, false
}

// pathArg returns the value of the path parameter name of the route, if it has one.
func pathArg(route oas.Route, name string) []string {
	args := route.Args()
	for i, n := range pathParams(route) {
		if n == name && i < len(args) {
			return []string{args[i]}
		}
	}
	return nil
}

// pathParams returns the names of the route's path parameters, in the order of its Args.
func pathParams(route oas.Route) []string {
	var names []string
	for _, seg := range strings.Split(route.PathPattern(), "/") {
		if strings.HasPrefix(seg, "{") {
			names = append(names, strings.Trim(seg, "{}"))
		}
	}
	return names
}
