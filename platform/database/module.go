package database

import (
	"context"
	"fmt"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
)

// Module opens the database on start (and closes it on stop), provides the Migrator over
// every module's migrations and, when MIGRATE_ON_START is true, migrates before the server
// starts serving.
var Module = fx.Module("database",
	fx.Provide(NewFromConfig, NewMigratorFromGroup),
	fx.Invoke(migrateOnStart),
)

// NewFromConfig opens the configured database and closes it when the application stops.
func NewFromConfig(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (*DB, error) {
	db, err := Open(context.Background(), Options{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns})
	if err != nil {
		return nil, err
	}
	log.Info("database open", zap.String("engine", string(db.Engine)))
	lc.Append(fx.StopHook(db.Close))
	return db, nil
}

// MigratorParams are the inputs of NewMigratorFromGroup.
type MigratorParams struct {
	fx.In
	DB         *DB
	Migrations []Migrations `group:"migrations"`
}

// NewMigratorFromGroup returns a Migrator over the migrations every module contributed.
func NewMigratorFromGroup(p MigratorParams) *Migrator {
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
