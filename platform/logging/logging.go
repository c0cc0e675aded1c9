// Package logging builds the service's zap logger from the configuration and routes fx's own
// event log through it, so every line the process writes is structured the same way. At start
// it logs one line naming the backends in use.
package logging

import (
	"cmp"
	"io"
	"os"
	"slices"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/config"
)

// Module provides the *zap.Logger, makes fx log through it, flushes it on stop, and logs the
// backends in use at start. The fx.WithLogger stays outside fx.Module: inside, it would apply
// to this module's events only.
var Module = fx.Options(
	fx.Module("logging", fx.Provide(New), fx.Invoke(logBackends)),
	fx.WithLogger(func(log *zap.Logger) fxevent.Logger {
		// fx's start-up chatter is debug-level: useful when wiring breaks, noise otherwise. So
		// are its errors: each is returned to the command, which prints it in one line; logged
		// too, it came out twice, as a multi-kilobyte trace.
		l := &fxevent.ZapLogger{Logger: log.Named("fx")}
		l.UseLogLevel(zapcore.DebugLevel)
		l.UseErrorLevel(zapcore.DebugLevel)
		return l
	}),
)

// New returns a logger at cfg.LogLevel writing cfg.LogFormat (json or console) to stderr.
//
// Output is buffered (flushed every second, when 256 KiB accumulate, on warnings and errors,
// and when the application stops): one request log line per request must not cost one write
// system call per request. A warning or an error is flushed at once, so what explains a crash
// or a failed start (which never runs the stop hook) is not left in the buffer.
func New(lc fx.Lifecycle, cfg config.Config) *zap.Logger {
	log, stop := build(cfg, os.Stderr)
	lc.Append(fx.StopHook(stop))
	return log
}

// build returns the logger writing to w, and the function that flushes and stops it.
func build(cfg config.Config, w io.Writer) (*zap.Logger, func()) {
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "time"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	// w is written, never fsynced: fsync fails on the pipes and terminals stderr usually is.
	stderr := zapcore.Lock(zapcore.AddSync(struct{ io.Writer }{w}))
	out := &zapcore.BufferedWriteSyncer{WS: stderr, Size: 256 << 10, FlushInterval: time.Second}
	core := zapcore.NewCore(enc, out, zap.NewAtomicLevelAt(cfg.LogLevel))
	opts := []zap.Option{zap.AddCaller(), zap.ErrorOutput(stderr), zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return flushOnWarning{Core: c, sync: out.Sync}
	})}
	if cfg.LogLevel <= zapcore.DebugLevel {
		opts = append(opts, zap.AddStacktrace(zapcore.ErrorLevel))
	}
	return zap.New(core, opts...), func() { _ = out.Stop() }
}

// flushOnWarning flushes the buffer after every entry at warning level or above.
type flushOnWarning struct {
	zapcore.Core
	sync func() error
}

// With keeps the wrapper on derived cores.
func (f flushOnWarning) With(fields []zapcore.Field) zapcore.Core {
	return flushOnWarning{Core: f.Core.With(fields), sync: f.sync}
}

// Check routes entries through this wrapper's Write.
func (f flushOnWarning) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if f.Enabled(e.Level) {
		return ce.AddCore(e, f)
	}
	return ce
}

// Write writes the entry and flushes when it is a warning or worse.
func (f flushOnWarning) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := f.Core.Write(e, fields)
	if e.Level >= zapcore.WarnLevel {
		_ = f.sync()
	}
	return err
}

// Backend is one backend the service runs on, for the start-up line that names them all
// (database, broker, cache, mailer): whoever chooses a backend contributes its Backend to the
// "backends" group (AsBackend), so the line names what is in use, a removed module's
// backend included, without this package knowing any of them.
type Backend struct {
	// Role is what the backend is for: database, broker, cache, mailer...
	Role string
	// Use says which backend serves the role, without credentials: "postgres
	// db.internal:5432/users", "in-process", "none".
	Use string
}

// AsBackend annotates a constructor of a Backend for the "backends" group.
func AsBackend(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"backends"`))
}

// roleOrder is the order of the start-up line's first fields; other roles follow by name.
var roleOrder = []string{"database", "broker", "cache", "mailer"}

// backendsParams are the inputs of logBackends.
type backendsParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Log       *zap.Logger
	Backends  []Backend `group:"backends"`
}

// logBackends logs, as the application starts (before anything connects), one line naming
// every backend in use, one field per role: what an operator asks first of a service that
// misbehaves, and what a misconfigured deployment shows at a glance.
func logBackends(p backendsParams) {
	rank := func(role string) int {
		if i := slices.Index(roleOrder, role); i >= 0 {
			return i
		}
		return len(roleOrder)
	}
	backends := slices.Clone(p.Backends)
	slices.SortStableFunc(backends, func(a, b Backend) int {
		return cmp.Or(cmp.Compare(rank(a.Role), rank(b.Role)), cmp.Compare(a.Role, b.Role))
	})
	fields := make([]zap.Field, len(backends))
	for i, b := range backends {
		fields[i] = zap.String(b.Role, b.Use)
	}
	p.Lifecycle.Append(fx.StartHook(func() { p.Log.Info("backends", fields...) }))
}
