// Package dbtest gives each test its own freshly migrated database: a schema of its own in the
// PostgreSQL named by TEST_DATABASE_URL, or a private in-memory SQLite. Tests can then run in
// parallel and leave nothing behind.
//
// Without a reachable PostgreSQL the PostgreSQL tests are skipped with a loud message, unless
// CI=true, where a missing database is a failure.
package dbtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acme/userservice/platform/database"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the test server's URL.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Engines lists the engines every storage test runs on.
func Engines() []database.Engine { return []database.Engine{database.SQLite, database.Postgres} }

// Open returns a fresh, migrated database of the engine, dropped when the test ends.
func Open(t testing.TB, engine database.Engine, migrations ...database.Migrations) *database.DB {
	t.Helper()
	if engine == database.Postgres {
		return Postgres(t, migrations...)
	}
	sqlEngine(t, engine)
	return SQLite(t, migrations...)
}

// URL returns a DATABASE_URL for a fresh database of the engine, dropped when the test ends:
// for tests that start the whole application and let it migrate.
func URL(t testing.TB, engine database.Engine) string {
	t.Helper()
	if engine == database.Postgres {
		return postgresSchemaURL(t)
	}
	sqlEngine(t, engine)
	return "sqlite://" + t.TempDir() + "/test.db"
}

// sqlEngine fails the test unless engine is SQLite, the one engine left once PostgreSQL is
// handled: a MongoDB test given an SQLite database would pass without testing MongoDB.
func sqlEngine(t testing.TB, engine database.Engine) {
	t.Helper()
	if engine != database.SQLite {
		t.Fatalf("dbtest: %q is not an SQL engine; mongotest gives MongoDB databases", engine)
	}
}

// SQLite returns a migrated SQLite database in a temporary file.
func SQLite(t testing.TB, migrations ...database.Migrations) *database.DB {
	t.Helper()
	return open(t, URL(t, database.SQLite), migrations)
}

// Postgres returns a migrated PostgreSQL database: a new schema, first on the search path of
// every pooled connection, dropped at cleanup.
func Postgres(t testing.TB, migrations ...database.Migrations) *database.DB {
	t.Helper()
	return open(t, postgresSchemaURL(t), migrations)
}

func open(t testing.TB, dbURL string, migrations []database.Migrations) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{URL: dbURL})
	if err != nil {
		t.Fatalf("open %s: %v", dbURL, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := database.MigrateUp(ctx, db, migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// postgresSchemaURL creates a schema for the test and returns a URL whose connections use it.
func postgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s is required in CI: %v", base, err)
		}
		t.Skipf("SKIPPED: PostgreSQL unreachable at %s (%v); set TEST_DATABASE_URL or start it. CI=true makes this a failure.", base, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
