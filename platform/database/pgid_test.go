package database_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
)

// BenchmarkUUIDArrays compares an array of 500 ids passed to PostgreSQL as google/uuid values
// (the baseline: driver.Valuer, a string each) and as database.PgIDs (binary), as the events
// platform passes a relay batch's ids.
func BenchmarkUUIDArrays(b *testing.B) {
	pool := dbtest.Postgres(b).Pool
	ctx := context.Background()
	ids := make([]uuid.UUID, 500)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, bc := range []struct {
		name string
		arg  func() any
	}{
		{"baseline google-uuid", func() any { return ids }},
		{"PgIDs", func() any { return database.PgIDs(ids) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				var n int
				if err := pool.QueryRow(ctx, "SELECT cardinality($1::uuid[])", bc.arg()).Scan(&n); err != nil || n != len(ids) {
					b.Fatal(n, err)
				}
			}
		})
	}
}
