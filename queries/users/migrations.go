// Package users embeds the users module's SQL migrations, one tree per engine, so the binary
// carries its schema. sqlc reads the same files as the schema of the typed queries.
package users

import (
	"embed"
	"io/fs"
)

//go:embed postgres/migrations/*.sql sqlite/migrations/*.sql
var files embed.FS

// PostgresMigrations returns the PostgreSQL migrations.
func PostgresMigrations() fs.FS { return sub("postgres/migrations") }

// SQLiteMigrations returns the SQLite migrations.
func SQLiteMigrations() fs.FS { return sub("sqlite/migrations") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// The directories are embedded above; fs.Sub fails only on an invalid path literal.
		panic(err)
	}
	return f
}
