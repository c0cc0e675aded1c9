package main

import (
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/events/natstest"
)

// TestStartUpLogNamesTheBackends: starting, the service logs one line naming the backend of
// every role (database, broker, cache, mailer), with hosts but never a password or token from
// the URLs it was given.
func TestStartUpLogNamesTheBackends(t *testing.T) {
	t.Parallel()
	mailDir := t.TempDir()
	tests := []struct {
		name   string
		engine database.Engine
		env    func(t *testing.T) map[string]string
		want   map[string]string // role: a part of the backend's description
	}{
		{
			name: "the embedded defaults", engine: database.SQLite,
			env:  func(*testing.T) map[string]string { return nil },
			want: map[string]string{"database": "sqlite /", "broker": "in-process", "cache": "none", "mailer": "development mailer (SMTP_URL unset): not sent, not kept"},
		},
		{
			name: "the development mailer keeping mail", engine: database.SQLite,
			env:  func(*testing.T) map[string]string { return map[string]string{"MAIL_DIR": mailDir} },
			want: map[string]string{"mailer": "kept in " + mailDir},
		},
		{
			name: "servers, with credentials", engine: database.Postgres,
			env: func(t *testing.T) map[string]string {
				// The test server trusts local connections: a password is accepted and ignored.
				db, err := url.Parse(dbtest.URL(t, database.Postgres))
				if err != nil {
					t.Fatal(err)
				}
				db.User = url.UserPassword(db.User.Username(), "db-secret")
				q := db.Query()
				q.Set("password", "db-secret-param")
				db.RawQuery = q.Encode()
				nats := strings.Replace(natstest.Start(t).URL(), "nats://", "nats://broker:nats-secret@", 1)
				return map[string]string{
					"DATABASE_URL": db.String(), "NATS_URL": nats, "NATS_STREAM": "staging",
					// Neither is contacted before a request needs it.
					"REDIS_URL": "redis://:redis-secret@127.0.0.1:1/2",
					"SMTP_URL":  "smtp://mailer:smtp-secret@mail.example.com:2525",
				}
			},
			want: map[string]string{
				"database": "postgres 127.0.0.1:5432/test", "broker": "NATS nats://127.0.0.1:", "cache": "Redis 127.0.0.1:1/2",
				"mailer": "SMTP mail.example.com:2525",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.InfoLevel)
			opts := []apptest.Option{withLogger(zap.New(core))}
			for k, v := range tc.env(t) {
				opts = append(opts, apptest.Env(k, v))
			}
			startAPI(t, tc.engine, opts...)

			lines := logs.FilterMessage("backends").All()
			if len(lines) != 1 {
				t.Fatalf("%d lines name the backends, want 1", len(lines))
			}
			got := lines[0].ContextMap()
			for _, role := range []string{"database", "broker", "cache", "mailer"} {
				if _, ok := got[role]; !ok {
					t.Errorf("the line does not name the %s: %v", role, got)
				}
			}
			for role, want := range tc.want {
				if s, _ := got[role].(string); !strings.Contains(s, want) {
					t.Errorf("%s: %q, want it to name %q", role, s, want)
				}
			}
			for _, entry := range logs.All() {
				for k, v := range entry.ContextMap() {
					if s, _ := v.(string); strings.Contains(s, "secret") || strings.Contains(entry.Message, "secret") {
						t.Errorf("a credential in the log: %q: %s=%q", entry.Message, k, s)
					}
				}
			}
		})
	}
}
