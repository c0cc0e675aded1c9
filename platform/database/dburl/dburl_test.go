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

// TestDescribeLeavesOutCredentials: the start-up log names the database by engine, host and
// database, never with a password (in the URL's user or in a parameter).
func TestDescribeLeavesOutCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"postgres://app:secret@db.internal:5432/users?sslmode=require&password=secret", "postgres db.internal:5432/users"},
		{"postgresql://app:secret@db1:5432,db2:5432/users?target_session_attrs=read-write", "postgres db1:5432,db2:5432/users"},
		{"postgres:///users?host=/var/run/postgresql&password=secret", "postgres /var/run/postgresql/users"},
		{"mongodb://app:secret@mongo1,mongo2/userservice?replicaSet=rs0", "mongodb mongo1,mongo2/userservice"},
		{"mongodb+srv://app:secret@cluster.example.com/userservice", "mongodb cluster.example.com/userservice"},
		{"sqlite://./userservice.db", "sqlite ./userservice.db"},
		{"mysql://app:secret@db/users", "(DATABASE_URL not valid)"},
	} {
		if got := dburl.Describe(tc.url); got != tc.want {
			t.Errorf("Describe(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
