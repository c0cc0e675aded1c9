package database

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database/dburl"
	"github.com/acme/userservice/platform/health"
	"github.com/acme/userservice/platform/logging"
)

// Module opens the database on start (and closes it on stop), provides the Migrator over
// every module's migrations and, when MIGRATE_ON_START is true, migrates before the server
// starts serving. It names the database in the start-up line of backends.
var Module = fx.Module("database",
	fx.Provide(
		NewFromConfig,
		NewMigratorFromGroup,
		fx.Annotate(NewHealthCheck, fx.ResultTags(`group:"health_checks"`)),
		logging.AsBackend(func(cfg config.Config) logging.Backend {
			return logging.Backend{Role: "database", Use: dburl.Describe(cfg.DatabaseURL)}
		}),
	),
	fx.Invoke(migrateOnStart),
)

// Params are the inputs of NewFromConfig.
type Params struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    config.Config
	Log       *zap.Logger
	Tracer    trace.TracerProvider
	Metrics   prometheus.Registerer
}

// NewFromConfig opens the configured database, exports the pool's statistics, and closes the
// database when the application stops.
func NewFromConfig(p Params) (*DB, error) {
	db, err := Open(context.Background(), Options{
		URL: p.Config.DatabaseURL, MaxConns: p.Config.DBMaxConns, Tracer: p.Tracer,
		ConnectTimeout: p.Config.DBConnectTimeout,
		Waiting: func(err error) {
			p.Log.Warn("database unreachable; waiting for it (DB_CONNECT_TIMEOUT)",
				zap.String("timeout", p.Config.DBConnectTimeout.String()), zap.String("reason", reason(err)))
		},
	})
	if err != nil {
		return nil, err
	}
	if db.Engine == Postgres {
		if err := p.Metrics.Register(newPoolCollector(db.Pool)); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	p.Log.Info("database open", zap.String("engine", string(db.Engine)))
	p.Lifecycle.Append(fx.StopHook(db.Close))
	return db, nil
}

// NewHealthCheck is the readiness check of the database: it answers a ping.
func NewHealthCheck(db *DB) health.Check {
	return health.Check{Name: "database", Run: db.Ping}
}

// MigratorParams are the inputs of NewMigratorFromGroup.
type MigratorParams struct {
	fx.In
	DB         *DB
	Migrations []Migrations `group:"migrations"`
}

// NewMigratorFromGroup returns a Migrator over the migrations every module contributed. Every
// command builds it, so on MongoDB a module without an adapter stops every command at start.
func NewMigratorFromGroup(p MigratorParams) (*Migrator, error) {
	return NewMigrator(p.DB, p.Migrations)
}

func migrateOnStart(lc fx.Lifecycle, cfg config.Config, m *Migrator, log *zap.Logger) {
	if !cfg.MigrateOnStart {
		return
	}
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		if err := m.Up(ctx); err != nil {
			return fmt.Errorf("migrate on start: %w", err)
		}
		log.Info("migrations applied")
		return nil
	}))
}
