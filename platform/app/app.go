// Package app composes the platform's modules around the feature modules a binary lists. The
// command and the test kit share it, so a module's tests run the application exactly as
// `userservice serve` does.
package app

import (
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/health"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/logging"
	"github.com/acme/userservice/platform/metrics"
	"github.com/acme/userservice/platform/password"
	"github.com/acme/userservice/platform/profiling"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/token"
	"github.com/acme/userservice/platform/tracing"
)

// Platform is the shared platform every command runs on.
func Platform(cfg config.Config) fx.Option {
	return fx.Options(
		config.Module(cfg),
		logging.Module,
		tracing.Module,
		metrics.Module,
		database.Module,
		password.Module,
		token.Module,
		throttle.Module,
		identity.Module,
		events.Schema,
	)
}

// Serve is the whole service: the platform, the HTTP server and the feature modules.
func Serve(cfg config.Config, features fx.Option) fx.Option {
	return fx.Options(
		Platform(cfg),
		httpserver.Module,
		health.Module,
		profiling.Module,
		events.Module,
		features,
	)
}

// Tools is what commands such as `migrate` and `admin` need: the platform and the feature
// modules (their migrations and services), no HTTP. They print their own results and return
// their errors, so only errors are logged (not, for instance, the serve-time warning about a
// generated JWT secret); they migrate explicitly, not on start.
func Tools(cfg config.Config, features fx.Option) fx.Option {
	cfg.MigrateOnStart = false
	cfg.LogLevel = max(cfg.LogLevel, zapcore.ErrorLevel)
	return fx.Options(Platform(cfg), features)
}
