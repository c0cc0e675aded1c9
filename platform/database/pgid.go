package database

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// PgID is a UUID as the PostgreSQL adapters pass it to pgx. pgx encodes pgtype.UUID in binary
// directly, where google/uuid goes through driver.Valuer: a string per value, parsed back by
// the server; for an array of ids that is about ten times the time (measured with 500 ids).
func PgID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// PgIDs is PgID of each id.
func PgIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = PgID(id)
	}
	return out
}
