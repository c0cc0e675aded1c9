// Package sqlite implements the audit module's EntryRepository on the embedded SQLite database
// through the sqlc-generated queries in litestore. It passes the same contract suite as the
// PostgreSQL adapter.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/acme/userservice/modules/audit/internal/adapters/rows"
	"github.com/acme/userservice/modules/audit/internal/adapters/sqlite/litestore"
	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// Repository is the SQLite EntryRepository.
type Repository struct {
	db *sql.DB
}

var _ ports.EntryRepository = (*Repository)(nil)

// NewRepository returns a repository on db.
func NewRepository(db *sql.DB) *Repository { return &Repository{db: db} }

// Record stores e unless handler already processed its event, in one transaction.
func (r *Repository) Record(ctx context.Context, handler string, e domain.Entry) error {
	return r.RecordAll(ctx, handler, []domain.Entry{e})
}

// RecordAll records es in one transaction, each unless handler already processed its event.
func (r *Repository) RecordAll(ctx context.Context, handler string, es []domain.Entry) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return mapError(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range es {
		first, err := events.MarkProcessedSQLite(ctx, tx, handler, e.EventID, e.OccurredAt)
		if err != nil {
			return err
		}
		if !first {
			continue
		}
		if err := litestore.New(tx).InsertAuditEvent(ctx, litestore.InsertAuditEventParams{
			EventID: e.EventID, Type: e.Type, Actor: e.Actor, Target: e.Target.String(), RequestID: e.RequestID,
			Changed: strings.Join(e.Changed, ","), OccurredAt: e.OccurredAt,
		}); err != nil {
			return mapError(err)
		}
	}
	return mapError(tx.Commit())
}

// List returns a page of entries, newest first.
func (r *Repository) List(ctx context.Context, q ports.Query) ([]domain.Entry, error) {
	target := ""
	if q.Target != nil {
		target = q.Target.String()
	}
	stored, err := litestore.New(r.db).ListAuditEvents(ctx, litestore.ListAuditEventsParams{
		Before: q.Before, Target: target, Actor: q.Actor, Type: q.Type, Lim: int64(q.Limit),
	})
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]domain.Entry, len(stored))
	for i, row := range stored {
		if out[i], err = rows.Entry(row.EventID, row.Type, row.Actor, row.Target, row.RequestID, row.Changed, row.OccurredAt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifySQLite(fmt.Errorf("audit sqlite: %w", err))
}
