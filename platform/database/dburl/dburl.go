// Package dburl parses DATABASE_URL. It is a leaf package so that both config (to reject a bad
// value at start-up) and database (to open it) can use the one parser.
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	Postgres Engine = "postgres"
	SQLite   Engine = "sqlite"
	MongoDB  Engine = "mongodb"
)

// Parse returns the engine and the engine-specific DSN of a DATABASE_URL. For sqlite://
// everything after the scheme is the file path (sqlite://./u.db, sqlite:///var/lib/u.db,
// sqlite://:memory:).
func Parse(raw string) (Engine, string, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("not a valid postgres URL: %w", err)
		}
		return Postgres, raw, nil
	case strings.HasPrefix(raw, "mongodb://"), strings.HasPrefix(raw, "mongodb+srv://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("not a valid mongodb URL: %w", err)
		}
		return MongoDB, raw, nil
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" {
			return "", "", errors.New("sqlite:// needs a file path, e.g. sqlite://./userservice.db")
		}
		return SQLite, sqliteDSN(path), nil
	}
	return "", "", errors.New("must start with postgres://, postgresql://, mongodb://, mongodb+srv:// or sqlite://")
}

// sqliteDSN turns a path into a DSN of the SQLite driver (ncruces/go-sqlite3): WAL for
// concurrent readers, a busy timeout instead of instant "database is locked" errors, foreign
// keys on, and times written as SQLite text with nanoseconds and an offset, which sorts as the
// times do and is what files of earlier versions hold, read back as time.Time.
// TimeLayout is how times are stored on SQLite.
const TimeLayout = "2006-01-02 15:04:05.999999999-07:00"

func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_timefmt", TimeLayout)
	return "file:" + path + "?" + q.Encode()
}

// Describe names the database of a DATABASE_URL for a log: its engine, its host(s) and
// database, or its file. Credentials and parameters are left out (a PostgreSQL URL may carry
// a password in either), but for a PostgreSQL host given as a parameter (a socket directory).
func Describe(raw string) string {
	engine, _, err := Parse(raw)
	if err != nil {
		return "(DATABASE_URL not valid)"
	}
	if engine == SQLite {
		return "sqlite " + strings.TrimPrefix(raw, "sqlite://")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return string(engine) + " (DATABASE_URL not valid)"
	}
	host := u.Host
	if host == "" && engine == Postgres {
		host = u.Query().Get("host")
	}
	return string(engine) + " " + host + u.Path
}
