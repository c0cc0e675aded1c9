package httpserver

import (
	"context"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/metrics"
	"github.com/acme/userservice/platform/problem"
	"github.com/acme/userservice/platform/reqctx"
)

// MaxBodyBytes is the largest request body accepted; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// requestIDHeader carries the request id in both directions (canonical form: it is set by
// map assignment, skipping net/http's canonicalisation and its allocation).
const requestIDHeader = "X-Request-Id"

// The values of the headers every response carries, allocated once: responses share them
// read-only (Header.Add on one of these keys would copy, never write into them).
var (
	nosniff    = []string{"nosniff"}
	noStore    = []string{"no-store"}
	denyAllCSP = []string{"default-src 'none'; frame-ancestors 'none'"}
)

// validRequestID accepts the ids of common proxies and tracing systems and nothing that could
// forge a log line or blow up its size.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// observation is what the observability middleware needs.
type observation struct {
	log        *zap.Logger
	metrics    *metrics.HTTP
	tracer     trace.Tracer
	tracing    bool
	propagator propagation.TextMapPropagator
	route      func(*http.Request) string
	timeout    time.Duration
}

// chain wraps h with the platform middleware, outermost first: observation (request id,
// deadline, trace span, metrics, one log line, the headers every response carries), panic
// recovery, and the body size limit.
func (o *observation) chain(h http.Handler) http.Handler {
	return o.observe(recoverPanics(o.log, limitBody(h)))
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// setSecureHeaders sets the headers every response carries: no MIME sniffing, no caching (the
// API serves personal data and tokens), and a CSP that forbids everything, since the API
// serves no HTML a browser should render or frame.
func setSecureHeaders(h http.Header) {
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	h["Content-Security-Policy"] = denyAllCSP
}

// statusRecorder remembers the status and size of a response for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// knownMethods bounds the method label: clients can send any token as a method.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// observe gives every request an id (the client's X-Request-ID when it is sane, else a new
// one, echoed either way) and a deadline (REQUEST_TIMEOUT: a database that hangs costs the
// client at most that, then a 503), continues the caller's trace (W3C traceparent) in a server
// span, sets the headers every response carries, and records one log line and the RED
// metrics when the response is done. It is one middleware, not five, so that the request's
// context is derived and copied once.
func (o *observation) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		h := w.Header()
		h[requestIDHeader] = []string{id}
		setSecureHeaders(h)
		route := o.route(r)
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}

		ctx := o.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		info := newReqInfo(w, r, id)
		ctx = reqctx.With(ctx, info)
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		var span trace.Span
		if o.tracing {
			ctx, span = o.tracer.Start(ctx, method+" "+route,
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("http.request.method", method),
					attribute.String("http.route", route),
					attribute.String("http.request_id", id),
				))
			defer span.End()
		}

		o.metrics.InFlight.Inc()
		defer o.metrics.InFlight.Dec()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)

		code := strconv.Itoa(rec.status)
		o.metrics.Requests.WithLabelValues(route, method, code).Inc()
		o.metrics.Duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		if span != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
		}
		fields := []zap.Field{
			zap.String("method", method), // bounded like the metric label: the raw method is client text
			zap.String("route", route),
			zap.Int("status", rec.status),
			zap.Int("bytes", rec.bytes),
			zap.Duration("duration", elapsed),
			zap.String("request_id", id),
			zap.String("client_addr", info.ClientAddr),
		}
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
		}
		o.log.Info("request", fields...)
	})
}

// isNoop reports whether tp records nothing, so that the middleware can skip span work.
func isNoop(tp trace.TracerProvider) bool {
	_, ok := tp.(noop.TracerProvider)
	return ok
}

// recoverPanics turns a panic in a handler into a logged 500 problem instead of a dropped
// connection. http.ErrAbortHandler keeps its meaning: abort silently.
func recoverPanics(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // as net/http itself tells the sentinel: by identity, a wrapped one is any other panic
					panic(v)
				}
				log.Error("panic in handler", zap.Any("panic", v), zap.String("request_id", RequestID(r.Context())),
					zap.ByteString("stack", debug.Stack()))
				problem.Write(w, r, problem.New(http.StatusInternalServerError, "An unexpected error occurred."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
