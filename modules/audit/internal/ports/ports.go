// Package ports declares what the audit module needs from storage. The service depends on this
// interface; the adapters (PostgreSQL, SQLite) implement it and pass one contract suite
// (porttest).
package ports

import (
	"context"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
)

// EntryRepository stores the audit trail.
type EntryRepository interface {
	// Record stores the entry of an event, once: handler's processed events are remembered in
	// the same transaction, so a redelivered event records nothing.
	Record(ctx context.Context, handler string, e domain.Entry) error
	// RecordAll records several entries as Record does, all or none, in one transaction.
	RecordAll(ctx context.Context, handler string, es []domain.Entry) error
	// List returns up to q.Limit entries, newest first, older than q.Before, that match every
	// filter q sets.
	List(ctx context.Context, q Query) ([]domain.Entry, error)
}

// Query selects entries.
type Query struct {
	// Before is where the page starts: entries with an older event id. Newest starts at the
	// newest.
	Before uuid.UUID
	// Target, Actor and Type filter when set.
	Target *uuid.UUID
	Actor  string
	Type   string
	// Limit is the most entries to return; it is always positive.
	Limit int
}

// Newest is the Before of the first page: after every event id.
var Newest = uuid.Max
