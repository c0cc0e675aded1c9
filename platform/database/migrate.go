package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Migrations are one module's schema migrations (goose SQL files), one tree per engine.
// Modules add theirs to the "migrations" fx value group.
type Migrations struct {
	// Module names the module; its applied versions live in the table goose_<Module>, so
	// modules migrate independently.
	Module   string
	Postgres fs.FS
	SQLite   fs.FS
	// Mongo prepares the module's collections on MongoDB (their indexes), doing nothing
	// where they are ready; nil means the module has no MongoDB adapter, and then the
	// service refuses to run on MongoDB (ErrNoMongoAdapter).
	Mongo func(ctx context.Context, db *mongo.Database) error
}

// WithMongo returns the migrations with the module's MongoDB preparation.
func (m Migrations) WithMongo(prepare func(ctx context.Context, db *mongo.Database) error) Migrations {
	m.Mongo = prepare
	return m
}

// NoMongoAdapterError names the modules that cannot run on MongoDB: the service refuses to
// start there rather than start half working.
type NoMongoAdapterError struct{ Modules []string }

func (e *NoMongoAdapterError) Error() string {
	return "DATABASE_URL is MongoDB, which these modules have no adapter for: " + strings.Join(e.Modules, ", ") +
		" (take them out of features() in cmd/userservice/main.go, or use PostgreSQL or SQLite)"
}

// EmbeddedMigrations returns a module's migrations from files, which holds them in the layout
// every module uses: postgres/migrations/*.sql and sqlite/migrations/*.sql.
func EmbeddedMigrations(module string, files fs.FS) Migrations {
	sub := func(dir string) fs.FS {
		f, err := fs.Sub(files, dir)
		if err != nil {
			// fs.Sub fails only on an invalid path, and these are constants.
			panic(err)
		}
		return f
	}
	return Migrations{Module: module, Postgres: sub("postgres/migrations"), SQLite: sub("sqlite/migrations")}
}

// MigrationStatus is the state of one migration file.
type MigrationStatus struct {
	Module  string
	Version int64
	Name    string
	Applied bool
}

// Migrator applies every module's migrations.
type Migrator struct {
	db   *DB
	sets []Migrations
}

// NewMigrator returns a migrator for the modules' migrations, applied in module-name order so
// runs are reproducible whatever order fx collected them in. On MongoDB it is a
// *NoMongoAdapterError when a module has no MongoDB adapter.
func NewMigrator(db *DB, sets []Migrations) (*Migrator, error) {
	sorted := slices.Clone(sets)
	slices.SortFunc(sorted, func(a, b Migrations) int { return strings.Compare(a.Module, b.Module) })
	if db.Engine == MongoDB {
		var missing []string
		for _, set := range sorted {
			if set.Mongo == nil {
				missing = append(missing, set.Module)
			}
		}
		if len(missing) > 0 {
			return nil, &NoMongoAdapterError{Modules: missing}
		}
	}
	return &Migrator{db: db, sets: sorted}, nil
}

// MigrateUp applies the migrations to db: NewMigrator, then Up.
func MigrateUp(ctx context.Context, db *DB, sets []Migrations) error {
	m, err := NewMigrator(db, sets)
	if err != nil {
		return err
	}
	return m.Up(ctx)
}

// ErrNoMongoMigrations is what Down and Status answer on MongoDB, which has no schema
// versions: Up creates each module's missing indexes, and nothing is ever rolled back.
var ErrNoMongoMigrations = errors.New("MongoDB has no schema migrations: `migrate up` (and every start) creates the missing indexes")

// Up applies every pending migration. On PostgreSQL it holds an advisory lock while it runs, so
// instances started together apply each migration exactly once. On MongoDB it prepares every
// module's collections (creating an index that exists is a no-op, so instances may race).
func (m *Migrator) Up(ctx context.Context) error {
	if m.db.Engine == MongoDB {
		for _, set := range m.sets {
			if err := set.Mongo(ctx, m.db.Mongo); err != nil {
				return fmt.Errorf("migrations of %s: %w", set.Module, ClassifyMongo(err))
			}
		}
		return nil
	}
	return m.each(ctx, false, func(ctx context.Context, _ string, p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
}

// Down rolls back the latest migration of every module, in reverse module order.
func (m *Migrator) Down(ctx context.Context) error {
	if m.db.Engine == MongoDB {
		return ErrNoMongoMigrations
	}
	return m.each(ctx, true, func(ctx context.Context, _ string, p *goose.Provider) error {
		_, err := p.Down(ctx)
		return err
	})
}

// Status lists every migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	if m.db.Engine == MongoDB {
		return nil, ErrNoMongoMigrations
	}
	var out []MigrationStatus
	err := m.each(ctx, false, func(ctx context.Context, module string, p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			out = append(out, MigrationStatus{
				Module:  module,
				Version: s.Source.Version,
				Name:    s.Source.Path,
				Applied: s.State == goose.StateApplied,
			})
		}
		return nil
	})
	return out, err
}

// each runs fn with a goose provider for every module, in module order or its reverse.
func (m *Migrator) each(ctx context.Context, reverse bool, fn func(ctx context.Context, module string, p *goose.Provider) error) error {
	sqlDB := m.sqlDB()
	if m.db.Engine == Postgres {
		// The *sql.DB borrows connections from the pool; closing it leaves the pool open.
		defer func() { _ = sqlDB.Close() }()
	}
	order := make([]int, len(m.sets))
	for i := range order {
		order[i] = i
	}
	if reverse {
		slices.Reverse(order)
	}
	for _, i := range order {
		set := m.sets[i]
		p, err := m.provider(ctx, sqlDB, set)
		if err != nil {
			return fmt.Errorf("migrations of %s: %w", set.Module, err)
		}
		if err := fn(ctx, set.Module, p); err != nil {
			return fmt.Errorf("migrations of %s: %w", set.Module, m.classify(err))
		}
	}
	return nil
}

// postgresLocker returns a session advisory lock private to the current schema: instances
// migrating one schema take turns, while databases in other schemas (tests run in parallel,
// each in its own) do not wait for each other.
func (m *Migrator) postgresLocker(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("migrations: read current schema: %w", ClassifyPostgres(err))
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("userservice migrations " + schema))
	// Poll every second rather than goose's default five: a second instance should start
	// soon after the first one finished migrating.
	return lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
}

func (m *Migrator) sqlDB() *sql.DB {
	if m.db.Engine == Postgres {
		return stdlib.OpenDBFromPool(m.db.Pool)
	}
	return m.db.SQL
}

// provider returns the goose provider of one module's migrations, its versions in the table
// goose_<module>: on PostgreSQL under the schema's migration lock, on SQLite through the
// version table store of ours (sqliteStore; goose takes a dialect or a store, not both).
func (m *Migrator) provider(ctx context.Context, sqlDB *sql.DB, set Migrations) (*goose.Provider, error) {
	table := "goose_" + set.Module
	if m.db.Engine == Postgres {
		locker, err := m.postgresLocker(ctx, sqlDB)
		if err != nil {
			return nil, err
		}
		return goose.NewProvider(goose.DialectPostgres, sqlDB, set.Postgres, goose.WithTableName(table), goose.WithSessionLocker(locker))
	}
	store, err := newSQLiteStore(table)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider("", sqlDB, set.SQLite, goose.WithStore(store))
}

func (m *Migrator) classify(err error) error {
	if m.db.Engine == Postgres {
		return ClassifyPostgres(err)
	}
	return ClassifySQLite(err)
}

// EnsureMongoIndexes creates those of the indexes that coll lacks, by name: what a module's
// MongoDB preparation does at every start. MongoDB answers a repeated creation as a no-op, but
// FerretDB v1 (the tests' server) drops the connection on some, and listing first spares the
// server the work at each start too.
func EnsureMongoIndexes(ctx context.Context, coll *mongo.Collection, indexes []mongo.IndexModel) error {
	names, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return ClassifyMongo(err)
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n.Name] = true
	}
	var missing []mongo.IndexModel
	for _, ix := range indexes {
		var o options.IndexOptions
		if ix.Options != nil {
			for _, set := range ix.Options.List() {
				if err := set(&o); err != nil {
					return err
				}
			}
		}
		if o.Name == nil {
			return fmt.Errorf("an index of %s has no name", coll.Name())
		}
		if !have[*o.Name] {
			missing = append(missing, ix)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = coll.Indexes().CreateMany(ctx, missing)
	return ClassifyMongo(err)
}
