// Package config reads the service's configuration from environment variables, once, at
// start-up, and validates it: a bad value stops the service with one line naming the variable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/database/dburl"
)

// Config is every setting of the service, one environment variable each. make generate writes
// docs/configuration.md from the fields' doc comments and tags, so each comment is written for
// an operator (what the variable takes and does), and every field needs an env tag and a
// comment: its own, or that of the field on the line before it, which they share (as the HTTP
// timeouts do).
type Config struct {
	// HTTPAddr is the address the HTTP server listens on (host:port).
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// DatabaseURL selects the database: postgres://… or postgresql://… (PostgreSQL),
	// mongodb://… or mongodb+srv://… (MongoDB; the path names the database, userservice when
	// it is empty), or sqlite://PATH (the embedded SQLite; everything after sqlite:// is the
	// path, as in sqlite://./u.db, sqlite:///var/lib/u.db or sqlite://:memory:).
	DatabaseURL string `env:"DATABASE_URL" envDefault:"sqlite://./userservice.db"`
	// DBMaxConns caps the PostgreSQL pool of each instance; 0 means 8 per CPU, between 8 and 64
	// (database.DefaultMaxConns).
	DBMaxConns int32 `env:"DB_MAX_CONNS" envDefault:"0"`
	// DBConnectTimeout is how long start-up waits, retrying, for an unreachable PostgreSQL
	// server; 0 tries once. A server that answers with an error (a wrong password, a missing
	// database) fails start-up at once.
	DBConnectTimeout time.Duration `env:"DB_CONNECT_TIMEOUT" envDefault:"10s"`
	// LogLevel is the least severe level logged: debug, info, warn or error.
	LogLevel zapcore.Level `env:"LOG_LEVEL" envDefault:"info"`
	// LogFormat is json (one object per line) or console (for people).
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`
	// MigrateOnStart applies pending migrations when the service starts.
	MigrateOnStart bool `env:"MIGRATE_ON_START" envDefault:"true"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish on shutdown
	// (SIGINT or SIGTERM).
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// RequestTimeout is the deadline of every request's work (database calls included); past
	// it the request gets a 503.
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT" envDefault:"10s"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout cut slow or idle clients:
	// they bound, in this order, reading a request's headers, reading the whole request,
	// writing the response, and a kept-alive connection's wait for the next request.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"15s"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	// CORSAllowedOrigins are the origins of the browser applications allowed to call the API
	// (CORS), such as https://app.example.com, or "*" for any; none (the default) allows none.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	// DocsEnabled serves the contract (GET /openapi.yaml, /openapi.json) and the interactive
	// documentation (GET /docs); false answers all three 404.
	DocsEnabled bool `env:"DOCS_ENABLED" envDefault:"true"`
	// DebugAddr, when set (host:port, such as 127.0.0.1:6060), serves net/http/pprof on its own
	// listener: keep it private.
	DebugAddr string `env:"DEBUG_ADDR"`
	// JWTSecret signs access tokens (HS256); at least 32 bytes. Serving on PostgreSQL or
	// MongoDB requires it (migrate and admin sign nothing); on the embedded SQLite default,
	// unset, a random one is generated and tokens die with the process.
	JWTSecret string `env:"JWT_SECRET"`
	// JWTTTL is how long an access token is valid.
	JWTTTL time.Duration `env:"JWT_TTL" envDefault:"15m"`
	// SessionTTL is how long a session (a login and its refresh tokens) lives, however often
	// it is refreshed; then its user logs in again.
	SessionTTL time.Duration `env:"SESSION_TTL" envDefault:"720h"`
	// RequireVerifiedEmail refuses logins of accounts whose email is not verified (with 403,
	// once the password is right).
	RequireVerifiedEmail bool `env:"REQUIRE_VERIFIED_EMAIL" envDefault:"false"`
	// LoginMaxFailures is how many failed logins of one account block it for LoginLockout.
	LoginMaxFailures int `env:"LOGIN_MAX_FAILURES" envDefault:"5"`
	// LoginMaxFailuresPerAddr is how many failed logins from one client address block it.
	LoginMaxFailuresPerAddr int `env:"LOGIN_MAX_FAILURES_PER_ADDR" envDefault:"20"`
	// LoginLockout is the window failures are counted in, and how long a block lasts.
	LoginLockout time.Duration `env:"LOGIN_LOCKOUT" envDefault:"15m"`
	// EventRetention is how long published events stay in the changes feed (GET /events), and
	// in the JetStream stream with NATSURL, before they are pruned.
	EventRetention time.Duration `env:"EVENT_RETENTION" envDefault:"168h"`
	// NATSURL, when set (nats://host:4222 or tls://host:4222), publishes events through NATS
	// JetStream instead of the embedded in-process broker.
	NATSURL string `env:"NATS_URL"`
	// NATSStream is the prefix of this deployment's names in NATS, the service's name by
	// default: its events go to the stream <PREFIX>_EVENTS (USERSERVICE_EVENTS) on the
	// subjects <prefix>.events.<type>, and its consumers are that stream's. Deployments sharing
	// a NATS server need prefixes of their own (such as userservice-staging), or each takes
	// the other's events; start-up refuses a stream that holds another prefix's subjects.
	// Lowercase letters, digits, - and _, at most 32.
	NATSStream string `env:"NATS_STREAM" envDefault:"userservice"`
	// CacheTTL is how long the users cache (in Redis, with REDIS_URL) keeps an entry; 0 turns
	// the cache off.
	CacheTTL time.Duration `env:"CACHE_TTL" envDefault:"30s"`
	// SMTPURL, when set (smtp://user:pass@host:587, smtps://host:465), sends mail through that
	// server; unset, mail goes to the log (recipient and subject only) and, with MailDir, to
	// files.
	SMTPURL string `env:"SMTP_URL"`
	// MailFrom is the From of every mail.
	MailFrom string `env:"MAIL_FROM" envDefault:"userservice <no-reply@localhost>"`
	// MailDir, when set and SMTP_URL is not, keeps each mail as an .eml file there (for
	// development: the files carry working links).
	MailDir string `env:"MAIL_DIR"`
	// PublicBaseURL is where the application's pages are: mailed links point under it
	// (/verify-email?token=…, /reset-password?token=…).
	PublicBaseURL string `env:"PUBLIC_BASE_URL" envDefault:"http://localhost:8080"`
	// RedisURL, when set (redis://host:6379/0 or rediss://…), keeps what several instances must
	// share in Redis: the login throttle's counts, and the users cache (CacheTTL).
	RedisURL string `env:"REDIS_URL"`
}

// Module supplies cfg to the application. The command loads the configuration before it
// builds the application, so that a bad value stops start-up with one line, not an fx trace.
func Module(cfg Config) fx.Option {
	return fx.Module("config", fx.Supply(cfg))
}

// Load reads the configuration from the environment.
func Load() (Config, error) {
	return Parse(nil)
}

// Parse reads the configuration from environ ("KEY=value" pairs) or, when environ is nil,
// from the process environment, and validates it.
func Parse(environ map[string]string) (Config, error) {
	opts := env.Options{}
	if environ != nil {
		opts.Environment = environ
	}
	cfg, err := env.ParseAsWithOptions[Config](opts)
	if err != nil {
		return Config{}, describe(err)
	}
	return cfg, cfg.validate()
}

// ForServing checks what serving needs beyond what every command does: a JWT_SECRET on a
// database server (PostgreSQL, MongoDB), where several instances must verify each other's
// tokens and tokens must survive a restart. (The embedded default generates one; migrate and
// admin sign nothing.)
func (c Config) ForServing() error {
	if engine, _, _ := dburl.Parse(c.DatabaseURL); engine != dburl.SQLite && c.JWTSecret == "" {
		return fmt.Errorf("config: JWT_SECRET: required to serve when DATABASE_URL is %s (at least 32 bytes, e.g. openssl rand -base64 48)", serverNames[engine])
	}
	return nil
}

// serverNames are the database servers' names, as errors say them.
var serverNames = map[dburl.Engine]string{dburl.Postgres: "PostgreSQL", dburl.MongoDB: "MongoDB"}

func (c Config) validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("config: HTTP_ADDR=%q: must be host:port, e.g. :8080", c.HTTPAddr)
	}
	if _, _, err := dburl.Parse(c.DatabaseURL); err != nil {
		return fmt.Errorf("config: DATABASE_URL: %v", err)
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return fmt.Errorf("config: JWT_SECRET: is %d bytes; must be at least 32", len(c.JWTSecret))
	}
	if c.LoginMaxFailures < 1 || c.LoginMaxFailuresPerAddr < 1 {
		return errors.New("config: LOGIN_MAX_FAILURES and LOGIN_MAX_FAILURES_PER_ADDR: must be at least 1")
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return fmt.Errorf("config: DEBUG_ADDR=%q: must be host:port, e.g. 127.0.0.1:6060", c.DebugAddr)
		}
	}
	if c.NATSURL != "" && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		return fmt.Errorf("config: NATS_URL=%q: must be nats://host:port or tls://host:port", c.NATSURL)
	}
	if !natsStream.MatchString(c.NATSStream) {
		return fmt.Errorf("config: NATS_STREAM=%q: must be 1-32 lowercase letters, digits, - or _, starting with a letter or digit (such as userservice)", c.NATSStream)
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return errors.New("config: REDIS_URL: must be redis://host:port[/db] or rediss://host:port[/db]") // no value: it may hold a password
	}
	if c.EventRetention <= 0 {
		return fmt.Errorf("config: EVENT_RETENTION=%s: must be positive, e.g. 168h", c.EventRetention)
	}
	if c.DBMaxConns < 0 || c.DBMaxConns == 1 {
		return fmt.Errorf("config: DB_MAX_CONNS=%d: must be 0 (the default) or at least 2 (the event relay holds one while handlers use another)", c.DBMaxConns)
	}
	for _, o := range c.CORSAllowedOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "") {
			return fmt.Errorf("config: CORS_ALLOWED_ORIGINS: %q is not an origin: want scheme://host[:port] (such as https://app.example.com) or *", o)
		}
	}
	if c.DBConnectTimeout < 0 {
		return fmt.Errorf("config: DB_CONNECT_TIMEOUT=%s: must be 0 (try once) or a positive duration, e.g. 30s", c.DBConnectTimeout)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return fmt.Errorf("config: LOG_FORMAT=%q: must be json or console", c.LogFormat)
	}
	for name, d := range map[string]time.Duration{
		"SHUTDOWN_TIMEOUT":         c.ShutdownTimeout,
		"REQUEST_TIMEOUT":          c.RequestTimeout,
		"HTTP_READ_HEADER_TIMEOUT": c.ReadHeaderTimeout,
		"HTTP_READ_TIMEOUT":        c.ReadTimeout,
		"HTTP_WRITE_TIMEOUT":       c.WriteTimeout,
		"HTTP_IDLE_TIMEOUT":        c.IdleTimeout,
		"JWT_TTL":                  c.JWTTTL,
		"LOGIN_LOCKOUT":            c.LoginLockout,
	} {
		if d <= 0 {
			return fmt.Errorf("config: %s=%s: must be a positive duration, e.g. 15s", name, d)
		}
	}
	return nil
}

// natsStream is what NATS_STREAM may be: one token of a NATS subject and, in capitals, part of
// a stream's name (neither takes dots, wildcards or spaces), lowercase so that two prefixes
// never name the same stream.
var natsStream = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Variables returns the names of the environment variables Config reads, in its order.
func Variables() []string {
	t := reflect.TypeFor[Config]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("env"); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// describe rewrites the library's error, which names Go struct fields, into one line naming
// the environment variable.
func describe(err error) error {
	var perr env.ParseError
	if errors.As(err, &perr) {
		name := perr.Name
		if f, ok := reflect.TypeFor[Config]().FieldByName(perr.Name); ok {
			name = f.Tag.Get("env")
		}
		return fmt.Errorf("config: %s: %v", name, perr.Err)
	}
	return fmt.Errorf("config: %w", err)
}
