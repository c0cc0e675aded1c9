package events

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"

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
func AppendPostgres(ctx context.Context, db pgstore.DBTX, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	q := pgstore.New(db)
	for _, e := range evs {
		env, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, pgstore.AppendEventParams{
			EventID: e.ID, Type: e.Type, Subject: e.Subject, Part: int16(part(e.Subject)), OccurredAt: e.Time, Envelope: string(env),
		}); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// AppendSQLite writes events to the outbox in tx, the transaction of the change they describe.
func AppendSQLite(ctx context.Context, tx litestore.DBTX, evs ...Event) error {
	q := litestore.New(tx)
	for _, e := range evs {
		env, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, litestore.AppendEventParams{
			EventID: e.ID, Type: e.Type, Subject: e.Subject, Part: int64(part(e.Subject)), OccurredAt: e.Time, Envelope: string(env),
		}); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}
