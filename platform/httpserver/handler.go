package httpserver

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/metrics"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Handler composes the modules' implementations of the operation groups of openapi.yaml into
// the one oas.Handler the generated server needs. A module that is not wired leaves its group
// unprovided, and the application fails to build, naming the missing interface.
type Handler struct {
	oas.SystemHandler
	oas.UsersHandler

	problems *Problems
}

var _ oas.Handler = (*Handler)(nil)

// HandlerParams are the operation groups and the error mapping NewHandler composes.
type HandlerParams struct {
	fx.In
	System   oas.SystemHandler
	Users    oas.UsersHandler
	Problems *Problems
}

// NewHandler returns the composed handler.
func NewHandler(p HandlerParams) *Handler {
	return &Handler{SystemHandler: p.System, UsersHandler: p.Users, problems: p.Problems}
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
	resp := oas.Problem{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Errors: fields}
	if p.Instance != "" {
		resp.Instance = oas.NewOptString(p.Instance)
	}
	return &oas.ErrorStatusCode{StatusCode: p.Status, Response: resp}
}

// HTTPHandlerParams are the inputs of NewHTTPHandler.
type HTTPHandlerParams struct {
	fx.In
	Handler  *Handler
	Security oas.SecurityHandler
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
// behind the platform's middleware for everything else. Security authenticates the
// operations openapi.yaml protects; the module that owns identities provides it.
func NewHTTPHandler(p HTTPHandlerParams) (http.Handler, error) {
	srv, err := oas.NewServer(p.Handler, p.Security,
		oas.WithErrorHandler(p.Problems.ErrorHandler),
		oas.WithNotFound(func(w http.ResponseWriter, r *http.Request) {
			p := problem.New(http.StatusNotFound, "No route for "+r.Method+" "+r.URL.Path+".")
			p.Instance = r.URL.Path
			problem.Write(w, p)
		}),
		oas.WithMethodNotAllowed(func(w http.ResponseWriter, r *http.Request, allowed string) {
			w.Header().Set("Allow", allowed)
			p := problem.New(http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allowed+".")
			p.Instance = r.URL.Path
			problem.Write(w, p)
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
	api := o.chain(srv)
	// Not an http.ServeMux: it would "clean" odd paths with HTML redirects, where the API
	// answers every unknown path with a problem.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			metricsHandler.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}

// routeOf returns a function naming the route template a request matched, for logs: templates
// keep the set of values small, raw paths would not.
func routeOf(srv *oas.Server) func(*http.Request) string {
	return func(r *http.Request) string {
		if route, ok := srv.FindPath(r.Method, r.URL); ok {
			return route.PathPattern()
		}
		return "unmatched"
	}
}
