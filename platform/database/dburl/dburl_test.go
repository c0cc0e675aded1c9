package dburl_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/acme/userservice/platform/database/dburl"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		engine    dburl.Engine
		dsnPrefix string
		wantErr   bool
	}{
		{"postgres://u@h:5432/db?sslmode=disable", dburl.Postgres, "postgres://u@h:5432/db", false},
		{"postgresql://u@h/db", dburl.Postgres, "postgresql://u@h/db", false},
		{"sqlite://./userservice.db", dburl.SQLite, "file:./userservice.db?", false},
		{"sqlite:///var/lib/u.db", dburl.SQLite, "file:/var/lib/u.db?", false},
		{"sqlite://:memory:", dburl.SQLite, "file::memory:?", false},
		{"sqlite://", "", "", true},
		{"mongodb://u:p@h:27017/users?replicaSet=rs0", dburl.MongoDB, "mongodb://u:p@h:27017/users", false},
		{"mongodb+srv://u@cluster.example.com/users", dburl.MongoDB, "mongodb+srv://u@cluster.example.com/users", false},
		{"mongodb://h:port/db", "", "", true},
		{"mysql://u@h/db", "", "", true},
		{"", "", "", true},
		{"postgres://u@h:port/db", "", "", true},
	}
	for _, tc := range tests {
		engine, dsn, err := dburl.Parse(tc.in)
		if (err != nil) != tc.wantErr || engine != tc.engine || !strings.HasPrefix(dsn, tc.dsnPrefix) {
			t.Errorf("Parse(%q) = %q, %q, %v", tc.in, engine, dsn, err)
		}
	}
	_, dsn, _ := dburl.Parse("sqlite://x.db")
	for _, want := range []string{"busy_timeout", "journal_mode%28WAL%29", "foreign_keys", "_timefmt=" + url.QueryEscape(dburl.TimeLayout)} {
		if !strings.Contains(dsn, want) {
			t.Errorf("sqlite DSN %q lacks %s", dsn, want)
		}
	}
}
