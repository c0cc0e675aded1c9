package httpserver

import (
	"net/http"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/acme/userservice/platform/problem"
)

// MaxBodyBytes is the largest request body accepted; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// chain wraps h with the platform middleware, outermost first: panic recovery, one log line
// per request, response headers every response carries, and the body size limit.
func chain(h http.Handler, log *zap.Logger, route func(*http.Request) string) http.Handler {
	return recoverPanics(log, logRequests(log, route, secureHeaders(limitBody(h))))
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			problem.Write(w, problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// secureHeaders sets the headers every response carries: no MIME sniffing, no caching (the
// API serves personal data and tokens), and a CSP that forbids everything, since the API
// serves no HTML a browser should render or frame.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, withReqInfo(w, r))
	})
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

func logRequests(log *zap.Logger, route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.Info("request",
			zap.String("method", r.Method),
			zap.String("route", route(r)),
			zap.Int("status", rec.status),
			zap.Int("bytes", rec.bytes),
			zap.Duration("duration", time.Since(start)),
		)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 problem instead of a dropped
// connection. http.ErrAbortHandler keeps its meaning: abort silently.
func recoverPanics(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
				problem.Write(w, problem.New(http.StatusInternalServerError, "An unexpected error occurred."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
