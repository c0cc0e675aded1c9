package database

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Batch collects statements of any sqlc package (its Queries run on a *Batch, as their DBTX)
// into one pgx.Batch, sent with Send: one round trip, and one implicit transaction, so either
// every statement takes effect or none does. Only statements that return nothing (sqlc's :exec)
// can be queued: their results are read at Send.
type Batch struct {
	b pgx.Batch
}

// errQueuedOnly is returned to a query that needs rows: a batch cannot answer before Send.
var errQueuedOnly = errors.New("database: a Batch queues statements without results only")

// Exec queues the statement; its result is known at Send.
func (b *Batch) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// Query is not supported: a batch cannot answer before Send.
func (b *Batch) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errQueuedOnly }

// QueryRow is not supported: a batch cannot answer before Send.
func (b *Batch) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errQueuedOnly }

// BatchSender is what runs a batch: a pool, a connection or a transaction.
type BatchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Send runs the queued statements on db in one round trip and returns the first error; when a
// statement fails, the ones after it do not run and the ones before it are rolled back (outside
// an explicit transaction, the batch is one).
func (b *Batch) Send(ctx context.Context, db BatchSender) error {
	br := db.SendBatch(ctx, &b.b)
	var first error
	for range b.b.Len() {
		if _, err := br.Exec(); err != nil && first == nil {
			first = err
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first = err
	}
	return first
}
