package events

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/litestore"
	"github.com/acme/userservice/platform/events/pgstore"
)

// Parts is how many parts the outbox is divided into by subject on PostgreSQL. One relay at a
// time works on a part, so a subject's events are published in order, while several instances
// share the parts between them.
const Parts = 8

// part returns the part of a subject.
func part(subject string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(subject))
	return int(h.Sum32() % Parts)
}

// AppendPostgres writes events to the outbox on db: the transaction of the change they describe,
// or a *database.Batch holding its statement (one round trip for both). After the commit, the
// writer calls Signal.Appended to wake the relays.
//
// The relay orders events by the writing transaction's id, which PostgreSQL gives at the
// transaction's first write: a transaction that records an event about a subject must write or
// lock the subject's row before anything else, so that a change of the same subject committed
// while it waited for that lock comes first in the relay's order too.
func AppendPostgres(ctx context.Context, db pgstore.DBTX, evs ...Event) error {
	q := pgstore.New(db)
	if len(evs) == 1 {
		r, err := PostgresRow(evs[0])
		if err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, pgstore.AppendEventParams{
			EventID: database.PgID(r.ID), Type: r.Type, Part: r.Part, OccurredAt: r.OccurredAt, Envelope: r.Envelope,
		}); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	}
	if len(evs) == 0 {
		return nil
	}
	// Several in one statement: a batch's events cost one round trip, not one each.
	p := pgstore.AppendEventsParams{
		EventIds: make([]pgtype.UUID, len(evs)), Types: make([]string, len(evs)), Parts: make([]int16, len(evs)),
		OccurredAts: make([]time.Time, len(evs)), Envelopes: make([]string, len(evs)),
	}
	for i, e := range evs {
		r, err := PostgresRow(e)
		if err != nil {
			return err
		}
		p.EventIds[i], p.Types[i], p.Parts[i], p.OccurredAts[i], p.Envelopes[i] = database.PgID(r.ID), r.Type, r.Part, r.OccurredAt, r.Envelope
	}
	if err := q.AppendEvents(ctx, p); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Row is an event as the columns of the PostgreSQL outbox, event_outbox, that its writer
// gives (the transaction's id is the column's default), for a module that inserts its change
// and its events in one statement. The same ordering rule holds as for AppendPostgres.
type Row struct {
	ID         uuid.UUID
	Type       string
	Part       int16
	OccurredAt time.Time
	Envelope   string
}

// PostgresRow returns the outbox row of e.
func PostgresRow(e Event) (Row, error) {
	env, err := e.MarshalJSON()
	if err != nil {
		return Row{}, err
	}
	return Row{ID: e.ID, Type: e.Type, Part: int16(part(e.Subject)), OccurredAt: e.Time, Envelope: string(env)}, nil
}

// AppendSQLite writes events to the outbox in tx, the transaction of the change they describe.
// SQLite has one writer and one relay: every event is in part 0.
func AppendSQLite(ctx context.Context, tx litestore.DBTX, evs ...Event) error {
	q := litestore.New(tx)
	for _, e := range evs {
		env, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, litestore.AppendEventParams{
			EventID: e.ID, Type: e.Type, Part: 0, OccurredAt: e.Time, Envelope: string(env),
		}); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}
