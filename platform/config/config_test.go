package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/acme/userservice/platform/config"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		HTTPAddr: ":8080", DatabaseURL: "sqlite://./userservice.db", LogLevel: zapcore.InfoLevel, LogFormat: "json",
		MigrateOnStart: true, ShutdownTimeout: 15 * time.Second, RequestTimeout: 10 * time.Second, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		JWTTTL: 15 * time.Minute, SessionTTL: 720 * time.Hour, CacheTTL: 30 * time.Second, MailFrom: "userservice <no-reply@localhost>", PublicBaseURL: "http://localhost:8080", LoginMaxFailures: 5, LoginMaxFailuresPerAddr: 20, LoginLockout: 15 * time.Minute,
		EventRetention: 7 * 24 * time.Hour, DBConnectTimeout: 10 * time.Second, DocsEnabled: true, NATSStream: "userservice",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR": "127.0.0.1:9000", "DATABASE_URL": "postgres://u@h/db", "DB_MAX_CONNS": "16",
		"LOG_LEVEL": "debug", "LOG_FORMAT": "console", "MIGRATE_ON_START": "false", "SHUTDOWN_TIMEOUT": "2s",
		"JWT_SECRET": strings.Repeat("s", 32), "JWT_TTL": "5m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9000" || cfg.DBMaxConns != 16 || cfg.LogLevel != zapcore.DebugLevel ||
		cfg.LogFormat != "console" || cfg.MigrateOnStart || cfg.ShutdownTimeout != 2*time.Second ||
		cfg.JWTSecret != strings.Repeat("s", 32) || cfg.JWTTTL != 5*time.Minute {
		t.Fatalf("got %+v", cfg)
	}
}

// TestBadValuesNameTheVariable: a bad value stops start-up with one line that names it.
func TestBadValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value string }{
		{"HTTP_ADDR", "8080"},
		{"JWT_SECRET", "too short"},
		{"JWT_TTL", "0s"},
		{"LOGIN_MAX_FAILURES", "0"},
		{"LOGIN_LOCKOUT", "forever"},
		{"DATABASE_URL", "mysql://x"},
		{"DATABASE_URL", "sqlite://"},
		{"DB_MAX_CONNS", "many"},
		{"DB_MAX_CONNS", "-1"},
		{"DB_CONNECT_TIMEOUT", "-1s"},
		{"CORS_ALLOWED_ORIGINS", "app.example.com"},
		{"REDIS_URL", "localhost:6379"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com/path"},
		{"DB_MAX_CONNS", "1"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
		{"MIGRATE_ON_START", "perhaps"},
		{"SHUTDOWN_TIMEOUT", "soon"},
		{"SHUTDOWN_TIMEOUT", "0s"},
		{"HTTP_READ_TIMEOUT", "-1s"},
		{"REQUEST_TIMEOUT", "0"},
		{"EVENT_RETENTION", "0s"},
		{"EVENT_RETENTION", "a week"},
		{"NATS_URL", "localhost:4222"},
		{"NATS_STREAM", "user.service"},
		{"NATS_STREAM", "UserService"},
		{"NATS_STREAM", "users>"},
		{"NATS_STREAM", strings.Repeat("a", 33)},
	}
	for _, tc := range tests {
		_, err := config.Parse(map[string]string{tc.name: tc.value})
		if err == nil {
			t.Errorf("%s=%q was accepted", tc.name, tc.value)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.name) || strings.Contains(msg, "\n") {
			t.Errorf("%s=%q: error %q must be one line naming the variable", tc.name, tc.value, msg)
		}
	}
}

func TestJWTSecretIsRequiredToServeWithADatabaseServer(t *testing.T) {
	t.Parallel()
	for url, name := range map[string]string{"postgres://u@h/db": "PostgreSQL", "mongodb://h/db": "MongoDB"} {
		cfg, err := config.Parse(map[string]string{"DATABASE_URL": url})
		if err != nil {
			t.Fatalf("migrate and admin need no JWT_SECRET: %v", err)
		}
		if err := cfg.ForServing(); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") || !strings.Contains(err.Error(), name) {
			t.Fatalf("serving without JWT_SECRET on %s: %v", name, err)
		}
	}
	// The embedded default serves without one (the token module then generates a random one).
	if cfg, err := config.Parse(map[string]string{"DATABASE_URL": "sqlite://x.db"}); err != nil || cfg.ForServing() != nil {
		t.Fatal(err, cfg.ForServing())
	}
}
