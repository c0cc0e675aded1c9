package config_test

import (
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
		MigrateOnStart: true, ShutdownTimeout: 15 * time.Second, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
	}
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR": "127.0.0.1:9000", "DATABASE_URL": "postgres://u@h/db", "DB_MAX_CONNS": "16",
		"LOG_LEVEL": "debug", "LOG_FORMAT": "console", "MIGRATE_ON_START": "false", "SHUTDOWN_TIMEOUT": "2s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9000" || cfg.DBMaxConns != 16 || cfg.LogLevel != zapcore.DebugLevel ||
		cfg.LogFormat != "console" || cfg.MigrateOnStart || cfg.ShutdownTimeout != 2*time.Second {
		t.Fatalf("got %+v", cfg)
	}
}

// TestBadValuesNameTheVariable: a bad value stops start-up with one line that names it.
func TestBadValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value string }{
		{"HTTP_ADDR", "8080"},
		{"DATABASE_URL", "mysql://x"},
		{"DATABASE_URL", "sqlite://"},
		{"DB_MAX_CONNS", "many"},
		{"DB_MAX_CONNS", "-1"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
		{"MIGRATE_ON_START", "perhaps"},
		{"SHUTDOWN_TIMEOUT", "soon"},
		{"SHUTDOWN_TIMEOUT", "0s"},
		{"HTTP_READ_TIMEOUT", "-1s"},
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
