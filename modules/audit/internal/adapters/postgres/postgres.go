// Package postgres implements the audit module's EntryRepository on PostgreSQL through pgx and
// the sqlc-generated queries in pgstore.
package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/modules/audit/internal/adapters/postgres/pgstore"
	"github.com/acme/userservice/modules/audit/internal/adapters/rows"
	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// Repository is the PostgreSQL EntryRepository.
type Repository struct {
	pool *pgxpool.Pool
}

var _ ports.EntryRepository = (*Repository)(nil)

// NewRepository returns a repository on pool.
func NewRepository(pool *pgxpool.Pool) *Repository { return &Repository{pool: pool} }

// Record stores e unless handler already processed its event, in one transaction.
func (r *Repository) Record(ctx context.Context, handler string, e domain.Entry) error {
	return mapError(pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		first, err := events.MarkProcessedPostgres(ctx, tx, handler, e.EventID, e.OccurredAt)
		if err != nil || !first {
			return err
		}
		return pgstore.New(tx).InsertAuditEvent(ctx, params(e))
	}))
}

// RecordAll records es in one statement (its own transaction). The entry's own key (the event
// id) makes a second record of an event do nothing, so the batch needs no processed ids: one
// row per event, where the trail keeps up with the writers.
func (r *Repository) RecordAll(ctx context.Context, _ string, es []domain.Entry) error {
	var p pgstore.InsertAuditEventsParams
	for _, e := range es {
		one := params(e)
		p.EventIds = append(p.EventIds, one.EventID)
		p.Types = append(p.Types, one.Type)
		p.Actors = append(p.Actors, one.Actor)
		p.Targets = append(p.Targets, one.Target)
		p.RequestIds = append(p.RequestIds, one.RequestID)
		p.Changed = append(p.Changed, one.Changed)
		p.OccurredAts = append(p.OccurredAts, one.OccurredAt)
	}
	return mapError(pgstore.New(r.pool).InsertAuditEvents(ctx, p))
}

func params(e domain.Entry) pgstore.InsertAuditEventParams {
	return pgstore.InsertAuditEventParams{
		EventID: database.PgID(e.EventID), Type: e.Type, Actor: e.Actor, Target: e.Target.String(), RequestID: e.RequestID,
		Changed: strings.Join(e.Changed, ","), OccurredAt: e.OccurredAt,
	}
}

// List returns a page of entries, newest first.
func (r *Repository) List(ctx context.Context, q ports.Query) ([]domain.Entry, error) {
	target := ""
	if q.Target != nil {
		target = q.Target.String()
	}
	stored, err := pgstore.New(r.pool).ListAuditEvents(ctx, pgstore.ListAuditEventsParams{
		Before: database.PgID(q.Before), Target: target, Actor: q.Actor, Type: q.Type, Lim: int64(q.Limit),
	})
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]domain.Entry, len(stored))
	for i, row := range stored {
		if out[i], err = rows.Entry(row.EventID.Bytes, row.Type, row.Actor, row.Target, row.RequestID, row.Changed, row.OccurredAt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyPostgres(fmt.Errorf("audit postgres: %w", err))
}
