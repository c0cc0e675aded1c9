// Package logging builds the service's zap logger from the configuration and routes fx's own
// event log through it, so every line the process writes is structured the same way.
package logging

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/config"
)

// Module provides the *zap.Logger, makes fx log through it, and flushes it on stop. The
// fx.WithLogger stays outside fx.Module: inside, it would apply to this module's events only.
var Module = fx.Options(
	fx.Module("logging",
		fx.Provide(New),
		fx.Invoke(func(lc fx.Lifecycle, log *zap.Logger) {
			lc.Append(fx.StopHook(func(context.Context) { _ = log.Sync() }))
		}),
	),
	fx.WithLogger(func(log *zap.Logger) fxevent.Logger {
		// fx's start-up chatter is debug-level: useful when wiring breaks, noise otherwise.
		l := &fxevent.ZapLogger{Logger: log.Named("fx")}
		l.UseLogLevel(zapcore.DebugLevel)
		return l
	}),
)

// New returns a logger at cfg.LogLevel writing cfg.LogFormat (json or console) to stderr.
func New(cfg config.Config) (*zap.Logger, error) {
	var zc zap.Config
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "time"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	zc.Level = zap.NewAtomicLevelAt(cfg.LogLevel)
	zc.DisableStacktrace = cfg.LogLevel > zapcore.DebugLevel
	return zc.Build()
}
