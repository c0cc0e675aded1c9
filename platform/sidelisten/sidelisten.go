// Package sidelisten serves an operator's endpoint (the profiler, the metrics) on a listener of
// its own, beside the API's: what an ingress exposes is then the API alone, without a path to
// filter. Listening happens at start, so a busy address fails start-up.
package sidelisten

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Serve adds to lc a server of h on addr, named name in its logs; started, when not nil, runs
// once the listener is open.
func Serve(lc fx.Lifecycle, log *zap.Logger, name, addr string, h http.Handler, readHeaderTimeout time.Duration, started func()) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: readHeaderTimeout}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			if started != nil {
				started()
			}
			log.Info(name+" listening", zap.String("addr", ln.Addr().String()))
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error(name+" stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}
