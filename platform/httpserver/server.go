// Package httpserver is the service's HTTP front: it composes the modules' operation handlers
// into the ogen-generated server, maps every error to a problem+json response, and runs a
// net/http server with timeouts and graceful shutdown on the fx lifecycle.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
)

// Server is the running HTTP server.
type Server struct {
	srv  *http.Server
	addr net.Addr
}

// Addr returns the address the server listens on; it is set once the application started.
func (s *Server) Addr() net.Addr { return s.addr }

// NewServer returns the server for handler, started and stopped with the application. It
// listens in OnStart, so a port already taken fails start-up instead of a background goroutine.
// On stop it stops accepting, lets in-flight requests finish within SHUTDOWN_TIMEOUT, and
// returns.
func NewServer(lc fx.Lifecycle, cfg config.Config, handler http.Handler, log *zap.Logger) *Server {
	s := &Server{srv: &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}}
	served := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			s.addr = ln.Addr()
			log.Info("listening", zap.String("addr", s.addr.String()))
			go func() {
				defer close(served)
				if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
			defer cancel()
			log.Info("shutting down: draining in-flight requests", zap.Duration("timeout", cfg.ShutdownTimeout))
			began := time.Now()
			err := s.srv.Shutdown(ctx)
			<-served
			if err != nil {
				return fmt.Errorf("graceful shutdown: %w", err)
			}
			log.Info("drained: every in-flight request finished", zap.Duration("took", time.Since(began)))
			return nil
		},
	})
	return s
}
