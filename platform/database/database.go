// Package database opens the service's database, PostgreSQL (pgxpool), MongoDB (the official
// driver) or the embedded SQLite, as DATABASE_URL chooses; it runs the modules' migrations under a lock and classifies driver
// errors that mean "the database is unreachable". It never names a module: modules contribute
// their migrations through the "migrations" fx value group.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/acme/userservice/platform/database/dburl"

	// The SQLite driver, registered as "sqlite3": SQLite translated to Go (ncruces/go-sqlite3),
	// no cgo. It replaced modernc.org/sqlite, whose module alone was 250 MB of the 631 MB a
	// first `make run` put in the module cache (348 MB now), at the same throughput.
	_ "github.com/ncruces/go-sqlite3/driver"
)

// Engine names a database engine.
type Engine = dburl.Engine

// The supported engines.
const (
	Postgres = dburl.Postgres
	SQLite   = dburl.SQLite
	MongoDB  = dburl.MongoDB
)

// Options tune how the database is opened.
type Options struct {
	// URL is postgres://…, postgresql://…, mongodb://…, mongodb+srv://… or sqlite://PATH.
	URL string
	// MaxConns caps the PostgreSQL pool; 0 means DefaultMaxConns.
	MaxConns int32
	// Tracer, when set and not a no-op, gets a span for every PostgreSQL statement.
	Tracer trace.TracerProvider
	// ConnectTimeout is how long Open waits for an unreachable PostgreSQL server to answer,
	// retrying, before it gives up; 0 tries once. A container platform starts the service and
	// its database together: the service must wait for it, within bounds.
	ConnectTimeout time.Duration
	// Waiting is called once if the first attempt to connect found the server unreachable and
	// Open goes on trying; nil: nothing is said.
	Waiting func(err error)
}

// ConnectError is a failure to open the database, said in one line: the database's URL with
// its password redacted, and the innermost cause ("connection refused", "database "x" does
// not exist").
type ConnectError struct {
	URL string
	Err error
}

func (e *ConnectError) Error() string { return "database: connect " + e.URL + ": " + reason(e.Err) }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// reason is the part of a connection error that says what is wrong, without the driver's
// framing (pgx repeats the user, the database and the address around it).
func reason(err error) string {
	var (
		pgErr *pgconn.PgError
		errno syscall.Errno
		dns   *net.DNSError
	)
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Message
	case errors.As(err, &dns):
		return "no such host " + dns.Name
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timed out"
	}
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err.Error()
}

// redact returns the URL without its password (and DATABASE_URL when it is not a URL).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "DATABASE_URL"
	}
	return u.Redacted()
}

// StatementCacheCapacity is how many prepared statements each PostgreSQL connection keeps,
// unless DATABASE_URL sets statement_cache_capacity: room for ten modules' statements.
const StatementCacheCapacity = 128

// DefaultMaxConns sizes the PostgreSQL pool: 8 connections per CPU, between 8 and 64. The
// service's statements are short; what limits writes is waiting for commits to reach disk,
// and PostgreSQL groups the commits of concurrent connections into one flush. pgx's default
// (max(4, CPUs)) halved insert throughput at 32 concurrent clients on 2 CPUs (make bench);
// 16 per CPU gave the same throughput as 8 with a longer tail (p99 +10-60 %), 2-3 MiB more
// memory and twice the PostgreSQL backends competing for the cores. Each instance may open
// this many: size max_connections for all instances.
func DefaultMaxConns() int32 {
	return int32(min(64, max(8, 8*runtime.GOMAXPROCS(0))))
}

// DB is the open database: exactly one of Pool, Mongo and SQL is set, as Engine says.
type DB struct {
	Engine Engine
	// Pool is the PostgreSQL pool.
	Pool *pgxpool.Pool
	// Mongo is the MongoDB database DATABASE_URL's path names (DefaultMongoDatabase when it
	// names none), on a client of its own.
	Mongo *mongo.Database
	// SQL is the SQLite handle. It has a single connection: SQLite allows one writer, and one
	// connection also keeps a :memory: database alive and shared.
	SQL *sql.DB
}

// Open opens the database and checks that it answers.
func Open(ctx context.Context, opt Options) (*DB, error) {
	engine, dsn, err := dburl.Parse(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	var db *DB
	switch engine {
	case Postgres:
		db, err = openPostgres(ctx, dsn, opt)
	case MongoDB:
		db, err = openMongo(ctx, dsn, opt)
	default:
		db, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, &ConnectError{URL: redact(opt.URL), Err: err}
	}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.MaxConns = opt.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns()
	}
	if !strings.Contains(dsn, "statement_cache_capacity") {
		// pgx presizes each connection's prepared-statement cache for 512 statements; the
		// service has a dozen per module, and across the pool the presized maps were the
		// largest live object on the heap.
		cfg.ConnConfig.StatementCacheCapacity = StatementCacheCapacity
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable server must fail a request quickly, never hang it.
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	}
	if _, off := opt.Tracer.(noop.TracerProvider); opt.Tracer != nil && !off {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(opt.Tracer))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := waitForPostgres(ctx, pool, opt); err != nil {
		pool.Close()
		return nil, err
	}
	// A search_path naming only schemas that do not exist leaves no schema to create tables
	// in; every statement would fail later with a puzzling message.
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, err
	}
	if schema == nil {
		var path string
		_ = pool.QueryRow(ctx, "SHOW search_path").Scan(&path)
		pool.Close()
		return nil, fmt.Errorf("no schema of the search_path (%s) exists: create it (CREATE SCHEMA …) or change search_path in DATABASE_URL", path)
	}
	return &DB{Engine: Postgres, Pool: pool}, nil
}

// waitForPostgres pings the server until it answers, for at most opt.ConnectTimeout while it
// is unreachable; an answer that is an error (a wrong password, a missing database) ends the
// wait at once.
func waitForPostgres(ctx context.Context, pool *pgxpool.Pool, opt Options) error {
	return waitFor(ctx, opt, func() error { return ClassifyPostgres(pool.Ping(ctx)) })
}

// waitFor calls ping until it returns anything but ErrUnavailable, for at most
// opt.ConnectTimeout.
func waitFor(ctx context.Context, opt Options, ping func() error) error {
	deadline := time.Now().Add(opt.ConnectTimeout)
	wait := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := ping()
		if err == nil || !errors.Is(err, ErrUnavailable) || time.Now().Add(wait).After(deadline) {
			return err
		}
		if attempt == 0 && opt.Waiting != nil {
			opt.Waiting(err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &DB{Engine: SQLite, SQL: db}, nil
}

// DefaultMongoDatabase is the database used when a mongodb:// URL names none.
const DefaultMongoDatabase = "userservice"

// openMongo connects to MongoDB. The driver connects lazily, so a ping is what proves the
// server answers, retried like PostgreSQL's while it is unreachable.
func openMongo(ctx context.Context, dsn string, opt Options) (*DB, error) {
	cs, err := connstring.ParseAndValidate(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := cs.Database
	if name == "" {
		name = DefaultMongoDatabase
	}
	o := options.Client().ApplyURI(dsn)
	if !cs.ServerSelectionTimeoutSet {
		// An unreachable server must fail a request quickly, never hang it (the driver's
		// default waits 30 s).
		o.SetServerSelectionTimeout(2 * time.Second)
	}
	if opt.MaxConns > 0 && !cs.MaxPoolSizeSet {
		o.SetMaxPoolSize(uint64(opt.MaxConns))
	}
	client, err := mongo.Connect(o)
	if err != nil {
		return nil, err
	}
	db := client.Database(name)
	if err := waitFor(ctx, opt, func() error { return ClassifyMongo(db.Client().Ping(ctx, nil)) }); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return &DB{Engine: MongoDB, Mongo: db}, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	switch db.Engine {
	case Postgres:
		return ClassifyPostgres(db.Pool.Ping(ctx))
	case MongoDB:
		return ClassifyMongo(db.Mongo.Client().Ping(ctx, nil))
	default: // SQLite
		return ClassifySQLite(db.SQL.PingContext(ctx))
	}
}

// Close releases the database.
func (db *DB) Close() error {
	switch db.Engine {
	case Postgres:
		db.Pool.Close()
		return nil
	case MongoDB:
		return db.Mongo.Client().Disconnect(context.Background())
	default: // SQLite
		return db.SQL.Close()
	}
}
