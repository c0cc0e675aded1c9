package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/metrics"
	"github.com/acme/userservice/platform/password"
	"github.com/acme/userservice/platform/problem"
)

func TestFromError(t *testing.T) {
	t.Parallel()
	teapot := problem.New(http.StatusTeapot, "mapped by a module")
	p := NewProblems(ProblemsParams{
		Mappers: []problem.Mapper{func(err error) (*problem.Problem, bool) {
			if err.Error() == "module error" {
				return teapot, true
			}
			return nil, false
		}},
		Log: zap.NewNop(),
	})
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"a problem as is", fmt.Errorf("wrapped: %w", problem.New(http.StatusConflict, "x")), http.StatusConflict},
		{"module mapper", errors.New("module error"), http.StatusTeapot},
		{"database down", fmt.Errorf("get: %w", database.ErrUnavailable), http.StatusServiceUnavailable},
		{"deadline", context.DeadlineExceeded, http.StatusServiceUnavailable},
		{"password hashing shed", fmt.Errorf("login: %w", password.ErrBusy), http.StatusServiceUnavailable},
		{"body too large", &http.MaxBytesError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{"anything else is a bug", errors.New("nil pointer somewhere"), http.StatusInternalServerError},
	}
	for _, tc := range tests {
		got := p.FromError(context.Background(), tc.err)
		if got.Status != tc.status || got.Title != http.StatusText(tc.status) || got.Detail == "" {
			t.Errorf("%s: got %+v, want status %d", tc.name, got, tc.status)
		}
	}
	if got := p.FromError(context.Background(), password.ErrBusy); got.Headers["Retry-After"] == "" {
		t.Errorf("shed password hashing: no Retry-After in %+v", got)
	}
	if got := p.FromError(context.Background(), errors.New("secret: password=hunter2")); strings.Contains(got.Detail, "hunter2") {
		t.Errorf("a 500 must not leak the error: %q", got.Detail)
	}
}

func TestPanicsBecome500Problems(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.ErrorLevel)
	h := testObserver(t, zap.New(core), "/x").chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if logs.FilterMessage("panic in handler").Len() != 1 {
		t.Fatalf("the panic was not logged: %v", logs.All())
	}
}

func TestRequestLogLine(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	h := testObserver(t, zap.New(core), "/users/{user_id}").chain(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("hello"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/users/123", nil))
	entries := logs.FilterMessage("request").All()
	if len(entries) != 1 {
		t.Fatalf("want one request line, got %v", logs.All())
	}
	f := entries[0].ContextMap()
	if f["method"] != "POST" || f["route"] != "/users/{user_id}" || f["status"] != int64(201) || f["bytes"] != int64(5) {
		t.Fatalf("fields %v", f)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("missing nosniff")
	}
}

func testObserver(t *testing.T, log *zap.Logger, route string) *observation {
	t.Helper()
	m, err := metrics.NewHTTP(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return &observation{
		log:        log,
		metrics:    m,
		tracer:     noop.NewTracerProvider().Tracer(""),
		propagator: propagation.TraceContext{},
		route:      func(*http.Request) string { return route },
		timeout:    time.Second,
	}
}

func TestRequestIDAndTraceID(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	h := testObserver(t, zap.New(core), "/health").chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) == "" {
			t.Error("no request id in the context")
		}
		if _, ok := r.Context().Deadline(); !ok {
			t.Error("no request deadline")
		}
	}))
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"client id kept", "abc-123.X_y:z", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"log injection", "x\nlevel=error", false},
		{"spaces", "a b", false},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/health", nil)
		if tc.in != "" {
			req.Header.Set("X-Request-ID", tc.in)
		}
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-ID")
		if tc.keep && got != tc.in || !tc.keep && (got == tc.in || len(got) != 36) {
			t.Errorf("%s: echoed %q", tc.name, got)
		}
	}
	for _, e := range logs.FilterMessage("request").All() {
		f := e.ContextMap()
		if f["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || f["request_id"] == "" {
			t.Fatalf("log fields %v", f)
		}
	}
}
