package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/litestore"
	"github.com/acme/userservice/platform/events/pgstore"
)

// partLockKey is the first of the advisory lock keys of the parts (one per part).
const partLockKey = 0x7573_6576_0000 // "usev"

// store is the relay's and the feed's storage, per engine.
type store interface {
	// parts returns how many parts deliver can be asked for.
	parts() int
	// deliver hands up to limit pending events of part, oldest first, to publish, and marks
	// the first n it accepted delivered, with the next positions of the changes feed. It
	// returns how many events were pending (0 when another relay holds the part).
	deliver(ctx context.Context, part, limit int, now time.Time, publish func(context.Context, []Event) (int, error)) (int, error)
	prune(ctx context.Context, before time.Time) (int64, error)
	addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error
	feed(ctx context.Context, after int64, typ string, limit int) ([]FeedEntry, error)
	backlog(ctx context.Context) (pending int64, oldest time.Time, err error)
	deadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// deadLetter returns errNoDeadLetter when there is none.
	deadLetter(ctx context.Context, handler string, id uuid.UUID) (DeadLetter, error)
	deleteDeadLetter(ctx context.Context, handler string, id uuid.UUID) error
}

// FeedEntry is an event at its position in the changes feed.
type FeedEntry struct {
	Position int64
	Event    Event
}

func newStore(db *database.DB) store {
	if db.Engine == database.Postgres {
		return &pgStore{pool: db.Pool}
	}
	return &liteStore{db: db.SQL}
}

func decode(envelope string) (Event, error) {
	var e Event
	if err := json.Unmarshal([]byte(envelope), &e); err != nil {
		return Event{}, fmt.Errorf("events: stored envelope: %w", err)
	}
	return e, nil
}

type pgStore struct{ pool *pgxpool.Pool }

func (s *pgStore) parts() int { return Parts }

func (s *pgStore) deliver(ctx context.Context, part, limit int, now time.Time, publish func(context.Context, []Event) (int, error)) (pending int, err error) {
	var pubErr error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := pgstore.New(tx)
		locked, err := q.TryLockPart(ctx, partLockKey+int64(part))
		if err != nil || !locked {
			return err
		}
		rows, err := q.ClaimPending(ctx, pgstore.ClaimPendingParams{Part: int16(part), Lim: int64(limit)})
		if err != nil || len(rows) == 0 {
			return err
		}
		pending = len(rows)
		evs := make([]Event, len(rows))
		seqs := make([]int64, len(rows))
		for i, r := range rows {
			if evs[i], err = decode(r.Envelope); err != nil {
				return err
			}
			seqs[i] = r.Seq
		}
		var n int
		n, pubErr = publish(ctx, evs)
		if n == 0 {
			return pubErr
		}
		// The feed's row lock, held to the commit, orders the relays' commits by position.
		last, err := q.ReserveFeedPositions(ctx, int64(n))
		if err != nil {
			return err
		}
		// What was published is committed delivered even when publishing stopped early; the
		// rest stays pending.
		return q.MarkDelivered(ctx, pgstore.MarkDeliveredParams{DeliveredAt: &now, FirstPosition: last - int64(n) + 1, Seqs: seqs[:n]})
	})
	if err == nil {
		err = pubErr
	}
	return pending, database.ClassifyPostgres(err)
}

func (s *pgStore) prune(ctx context.Context, before time.Time) (int64, error) {
	q := pgstore.New(s.pool)
	n, err := q.PruneDelivered(ctx, &before)
	if err == nil {
		err = q.PruneProcessed(ctx, before)
	}
	return n, database.ClassifyPostgres(err)
}

func (s *pgStore) addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error {
	env, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return database.ClassifyPostgres(pgstore.New(s.pool).AddDeadLetter(ctx, pgstore.AddDeadLetterParams{
		Handler: handler, EventID: e.ID, Envelope: string(env), Error: cause.Error(), Attempts: int32(attempts), FailedAt: at,
	}))
}

func (s *pgStore) feed(ctx context.Context, after int64, typ string, limit int) ([]FeedEntry, error) {
	rows, err := pgstore.New(s.pool).Feed(ctx, pgstore.FeedParams{After: after, Type: typ, Lim: int64(limit)})
	if err != nil {
		return nil, database.ClassifyPostgres(err)
	}
	out := make([]FeedEntry, len(rows))
	for i, r := range rows {
		e, err := decode(r.Envelope)
		if err != nil {
			return nil, err
		}
		out[i] = FeedEntry{Position: r.Position.Int64, Event: e}
	}
	return out, nil
}

func (s *pgStore) backlog(ctx context.Context) (int64, time.Time, error) {
	q := pgstore.New(s.pool)
	n, err := q.CountPending(ctx)
	if err != nil || n == 0 {
		return n, time.Time{}, database.ClassifyPostgres(err)
	}
	oldest, err := q.OldestPending(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, oldest, database.ClassifyPostgres(err)
}

// liteStore is the SQLite store. SQLite has one writer, which the handlers of the in-process
// broker need too: deliver reads the pending events, publishes them, and only then marks them
// delivered in a short transaction. One relay runs per process, and one process per file.
type liteStore struct{ db *sql.DB }

func (s *liteStore) parts() int { return 1 }

func (s *liteStore) deliver(ctx context.Context, _, limit int, now time.Time, publish func(context.Context, []Event) (int, error)) (int, error) {
	rows, err := litestore.New(s.db).ClaimPending(ctx, int64(limit))
	if err != nil || len(rows) == 0 {
		return 0, database.ClassifySQLite(err)
	}
	evs := make([]Event, len(rows))
	for i, r := range rows {
		if evs[i], err = decode(r.Envelope); err != nil {
			return 0, err
		}
	}
	n, pubErr := publish(ctx, evs)
	if n > 0 {
		if err := s.markDelivered(ctx, rows[:n], now); err != nil {
			return len(rows), err
		}
	}
	return len(rows), pubErr
}

func (s *liteStore) markDelivered(ctx context.Context, rows []litestore.ClaimPendingRow, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return database.ClassifySQLite(err)
	}
	defer func() { _ = tx.Rollback() }()
	q := litestore.New(tx)
	last, err := q.ReserveFeedPositions(ctx, int64(len(rows)))
	if err != nil {
		return database.ClassifySQLite(err)
	}
	for i, r := range rows {
		pos := last - int64(len(rows)) + int64(i) + 1
		if err := q.MarkDelivered(ctx, litestore.MarkDeliveredParams{
			DeliveredAt: sql.NullTime{Time: now, Valid: true}, Position: sql.NullInt64{Int64: pos, Valid: true}, Seq: r.Seq,
		}); err != nil {
			return database.ClassifySQLite(err)
		}
	}
	return database.ClassifySQLite(tx.Commit())
}

func (s *liteStore) prune(ctx context.Context, before time.Time) (int64, error) {
	q := litestore.New(s.db)
	n, err := q.PruneDelivered(ctx, sql.NullTime{Time: before, Valid: true})
	if err == nil {
		err = q.PruneProcessed(ctx, before)
	}
	return n, database.ClassifySQLite(err)
}

func (s *liteStore) addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error {
	env, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return database.ClassifySQLite(litestore.New(s.db).AddDeadLetter(ctx, litestore.AddDeadLetterParams{
		Handler: handler, EventID: e.ID, Envelope: string(env), Error: cause.Error(), Attempts: int64(attempts), FailedAt: at,
	}))
}

func (s *liteStore) feed(ctx context.Context, after int64, typ string, limit int) ([]FeedEntry, error) {
	rows, err := litestore.New(s.db).Feed(ctx, litestore.FeedParams{After: after, Type: typ, Lim: int64(limit)})
	if err != nil {
		return nil, database.ClassifySQLite(err)
	}
	out := make([]FeedEntry, len(rows))
	for i, r := range rows {
		e, err := decode(r.Envelope)
		if err != nil {
			return nil, err
		}
		out[i] = FeedEntry{Position: r.Position.Int64, Event: e}
	}
	return out, nil
}

func (s *liteStore) backlog(ctx context.Context) (int64, time.Time, error) {
	q := litestore.New(s.db)
	n, err := q.CountPending(ctx)
	if err != nil || n == 0 {
		return n, time.Time{}, database.ClassifySQLite(err)
	}
	oldest, err := q.OldestPending(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, oldest, database.ClassifySQLite(err)
}

// MarkProcessedPostgres records, in tx (the handler's own transaction), that handler has
// processed the event, and reports whether this is the first time: a handler that gets false
// has already done its work and returns nil. This makes an at-least-once delivery effectively
// once for the handler's own data.
func MarkProcessedPostgres(ctx context.Context, tx pgstore.DBTX, handler string, id uuid.UUID, now time.Time) (bool, error) {
	n, err := pgstore.New(tx).MarkProcessed(ctx, pgstore.MarkProcessedParams{Handler: handler, EventID: id, ProcessedAt: now})
	return n == 1, database.ClassifyPostgres(err)
}

// MarkProcessedSQLite is MarkProcessedPostgres on SQLite.
func MarkProcessedSQLite(ctx context.Context, tx litestore.DBTX, handler string, id uuid.UUID, now time.Time) (bool, error) {
	n, err := litestore.New(tx).MarkProcessed(ctx, litestore.MarkProcessedParams{Handler: handler, EventID: id, ProcessedAt: now})
	return n == 1, database.ClassifySQLite(err)
}
