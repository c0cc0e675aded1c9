// Package events embeds the SQL migrations of the events platform (platform/events), one tree
// per engine, so the binary carries its schema. sqlc reads the same files as the schema of the
// typed queries.
package events

import (
	"embed"

	"github.com/acme/userservice/platform/database"
)

//go:embed postgres/migrations/*.sql sqlite/migrations/*.sql
var files embed.FS

// Migrations returns the events platform's migrations for every engine.
func Migrations() database.Migrations { return database.EmbeddedMigrations("events", files) }
