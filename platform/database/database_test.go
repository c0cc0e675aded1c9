package database_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
)

// migrations is a two-step schema for testing the migrator, in both dialects.
func migrations() database.Migrations {
	files := fstest.MapFS{
		"00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (id INTEGER);\n-- +goose Down\nDROP TABLE a;\n")},
		"00002_b.sql": {Data: []byte("-- +goose Up\nCREATE TABLE b (id INTEGER);\n-- +goose Down\nDROP TABLE b;\n")},
	}
	return database.Migrations{Module: "demo", Postgres: files, SQLite: files}
}

func TestMigrator(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := database.Open(ctx, database.Options{URL: dbtest.URL(t, engine)})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			m, err := database.NewMigrator(db, []database.Migrations{migrations()})
			if err != nil {
				t.Fatal(err)
			}
			applied := func() []bool {
				st, err := m.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var out []bool
				for _, s := range st {
					if s.Module != "demo" {
						t.Fatalf("module %q", s.Module)
					}
					out = append(out, s.Applied)
				}
				return out
			}
			steps := []struct {
				name string
				run  func(context.Context) error
				want [2]bool
			}{
				{"up", m.Up, [2]bool{true, true}},
				{"up again is a no-op", m.Up, [2]bool{true, true}},
				{"down", m.Down, [2]bool{true, false}},
				{"down", m.Down, [2]bool{false, false}},
				{"up", m.Up, [2]bool{true, true}},
			}
			if got := applied(); len(got) != 2 || got[0] || got[1] {
				t.Fatalf("fresh database: %v", got)
			}
			for _, st := range steps {
				if err := st.run(ctx); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got := applied(); got[0] != st.want[0] || got[1] != st.want[1] {
					t.Fatalf("after %s: %v, want %v", st.name, got, st.want)
				}
			}
		})
	}
}

// TestConcurrentMigrationsTakeTurns starts several migrators on one PostgreSQL schema at
// once, as several instances starting together would: the lock makes them take turns.
func TestConcurrentMigrationsTakeTurns(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t, database.Postgres)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := database.Open(ctx, database.Options{URL: url})
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = db.Close() }()
			errs <- database.MigrateUp(ctx, db, []database.Migrations{migrations()})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: take a free one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://postgres@"+addr+"/test?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if !errors.Is(database.ClassifyPostgres(err), database.ErrUnavailable) {
		t.Fatalf("connection refused must be ErrUnavailable: %v", err)
	}
	if _, err := database.Open(ctx, database.Options{URL: "postgres://postgres@" + addr + "/test"}); err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	other := errors.New("syntax error")
	if database.ClassifyPostgres(other) != other { //nolint:errorlint // the very error, not one wrapping it: identity is what is asserted
		t.Fatal("other errors must pass through unchanged")
	}
}
