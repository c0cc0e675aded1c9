package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/platform/database/dburl"

	_ "github.com/ncruces/go-sqlite3/driver"
)

// database is a fresh benchmark database and what is needed to talk to it directly.
type database struct {
	engine string
	url    string // DATABASE_URL for the service
	pool   *pgxpool.Pool
	sql    *sql.DB
	drop   func()
	// stmts are the service's own statements (queries/{users,events}/<engine>/queries.sql) by
	// name.
	stmts map[string]string
}

func newDatabase(ctx context.Context, o options, engine string) (*database, error) {
	if engine == "sqlite" {
		dir, err := os.MkdirTemp("", "loadbench-sqlite-")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "bench.db")
		return &database{engine: engine, url: "sqlite://" + path, drop: func() { _ = os.RemoveAll(dir) }}, nil
	}
	admin, err := pgx.Connect(ctx, o.adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.adminURL, err)
	}
	name := fmt.Sprintf("loadbench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close(ctx)
		return nil, err
	}
	u, _ := url.Parse(o.adminURL)
	u.Path = "/" + name
	return &database{engine: engine, url: u.String(), drop: func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	}}, nil
}

// open connects the benchmark itself, after the service created the schema.
func (d *database) open(ctx context.Context, conns int) error {
	if d.engine == "sqlite" {
		_, dsn, err := dburl.Parse(d.url) // the service's own DSN: its pragmas and time layout
		if err != nil {
			return err
		}
		db, err := sql.Open("sqlite3", dsn)
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		d.sql = db
		return nil
	}
	cfg, err := pgxpool.ParseConfig(d.url)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(conns)
	d.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	return err
}

func (d *database) close() {
	if d.pool != nil {
		d.pool.Close()
	}
	if d.sql != nil {
		_ = d.sql.Close()
	}
	d.drop()
}

// seed inserts n users directly (COPY on PostgreSQL), oldest first, and returns their ids and
// creation times.
func (d *database) seed(ctx context.Context, n int) ([]uuid.UUID, []time.Time, error) {
	ids := make([]uuid.UUID, n)
	times := make([]time.Time, n)
	start := time.Now().Add(-time.Duration(n) * time.Millisecond).UTC().Truncate(time.Microsecond)
	rows := make([][]any, n)
	for i := range n {
		ids[i] = uuid.Must(uuid.NewV7())
		at := start.Add(time.Duration(i) * time.Millisecond)
		times[i] = at
		rows[i] = []any{ids[i], fmt.Sprintf("seed_%d", i), fmt.Sprintf("seed%d@example.com", i), true, "user", at, at}
	}
	cols := []string{"user_id", "username", "email", "is_active", "role", "created_at", "updated_at"}
	if d.pool != nil {
		_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"users"}, cols, pgx.CopyFromRows(rows))
		if err == nil {
			_, err = d.pool.Exec(ctx, "ANALYZE users")
		}
		return ids, times, err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO users ("+strings.Join(cols, ",")+") VALUES (?,?,?,?,?,?,?)")
	if err != nil {
		_ = tx.Rollback() // SQLite has one connection: a transaction left open would hold it
		return nil, nil, err
	}
	defer func() { _ = stmt.Close() }()
	for _, r := range rows {
		r[0] = r[0].(uuid.UUID).String()
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			_ = tx.Rollback()
			return nil, nil, err
		}
	}
	return ids, times, tx.Commit()
}

// run runs the service's statement name with args and discards the result rows.
func (d *database) run(ctx context.Context, name string, args ...any) error {
	if d.pool != nil {
		return d.runPG(ctx, d.pool, name, args...)
	}
	q, ok := d.stmts[name]
	if !ok {
		return fmt.Errorf("no statement %s in queries/{users,events}/%s/queries.sql", name, d.engine)
	}
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = id.String()
		}
	}
	rows, err := d.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
	}
	return rows.Err()
}

// runPG runs statement name on q (the pool or a transaction), with ids passed as the service's
// adapter passes them.
func (d *database) runPG(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, name string, args ...any) error {
	stmt, ok := d.stmts[name]
	if !ok {
		return fmt.Errorf("no statement %s in queries/{users,events}/%s/queries.sql", name, d.engine)
	}
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = pgtype.UUID{Bytes: id, Valid: true}
		}
	}
	{
		rows, err := q.Query(ctx, stmt, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	}
}
