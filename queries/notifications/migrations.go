// Package notifications embeds the notifications module's SQL migrations, one tree per engine,
// so the binary carries its schema. sqlc reads the same files as the schema of the typed queries.
package notifications

import (
	"embed"

	"github.com/acme/userservice/platform/database"
)

//go:embed postgres/migrations/*.sql sqlite/migrations/*.sql
var files embed.FS

// Migrations returns the module's migrations for every engine.
func Migrations() database.Migrations { return database.EmbeddedMigrations("notifications", files) }
