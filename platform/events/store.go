package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/litestore"
	"github.com/acme/userservice/platform/events/pgstore"
)

// store is the relay's and the feed's storage, per engine.
type store interface {
	// deliver hands up to limit pending events of the parts no other relay holds, oldest first
	// in each part, to publish in one call, and moves each part's mark past its events among
	// the first n publish accepted, in one transaction. It returns how many events were pending
	// (0 when other relays hold every part).
	deliver(ctx context.Context, limit int, publish func(context.Context, []Event) (int, error)) (int, error)
	prune(ctx context.Context, before time.Time) (int64, error)
	addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error
	feed(ctx context.Context, after Position, typ string, limit int) ([]FeedEntry, error)
	backlog(ctx context.Context) (pending int64, oldest time.Time, err error)
	deadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// deadLetter returns errNoDeadLetter when there is none.
	deadLetter(ctx context.Context, handler string, id uuid.UUID) (DeadLetter, error)
	deleteDeadLetter(ctx context.Context, handler string, id uuid.UUID) error
	// subscriptions returns the handlers of the subscriptions the embedded broker has started.
	subscriptions(ctx context.Context) (map[string]bool, error)
	// addSubscription records that the subscription of handler has started; again is a no-op.
	addSubscription(ctx context.Context, handler string, at time.Time) error
}

// FeedEntry is an event at its position in the changes feed.
type FeedEntry struct {
	Position Position
	Event    Event
}

// Position is a place in the order of the relay and the changes feed. On PostgreSQL it is the
// id of the transaction that wrote the event, then the event's id; on SQLite, where commits
// are in insertion order, the insertion sequence (ID is zero). The zero Position is before
// every event.
type Position struct {
	Tx int64
	ID uuid.UUID
}

// storeParams are the inputs of newStore.
type storeParams struct {
	fx.In
	DB *database.DB
	// Outboxes are the modules' outbox collections on MongoDB.
	Outboxes []OutboxCollection `group:"mongo_outboxes"`
}

func newStore(p storeParams) (store, error) {
	return database.Adapters[store]{
		database.Postgres: func(db *database.DB) store { return &pgStore{pool: db.Pool} },
		database.SQLite:   func(db *database.DB) store { return &liteStore{db: db.SQL} },
		database.MongoDB:  func(db *database.DB) store { return newMongoStore(db.Mongo, p.Outboxes) },
	}.For("events", p.DB)
}

func decode(envelope string) (Event, error) {
	var e Event
	if err := e.UnmarshalJSON([]byte(envelope)); err != nil {
		return Event{}, fmt.Errorf("events: stored envelope: %w", err)
	}
	return e, nil
}

type pgStore struct{ pool *pgxpool.Pool }

// deliver takes every part it can in one transaction of four statements (lock, claim, move
// the marks, commit after BEGIN), whatever the number of parts and events: a subject's events
// stay in order (they are all in its part, and a part's events are claimed in order), and the
// handlers get the events of every part in one batch.
func (s *pgStore) deliver(ctx context.Context, limit int, publish func(context.Context, []Event) (int, error)) (pending int, err error) {
	var pubErr error
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := pgstore.New(tx)
		parts, err := q.TryLockParts(ctx, Parts)
		if err != nil || len(parts) == 0 {
			return err // none: other relays hold them all
		}
		rows, err := q.ClaimPendingParts(ctx, pgstore.ClaimPendingPartsParams{Parts: parts, Lim: int64(limit)})
		if err != nil || len(rows) == 0 {
			return err
		}
		pending = len(rows)
		evs := make([]Event, len(rows))
		for i, r := range rows {
			if evs[i], err = decode(r.Envelope); err != nil {
				return err
			}
		}
		var n int
		n, pubErr = publish(ctx, evs)
		if n == 0 {
			return pubErr
		}
		// What was published is committed behind the marks even when publishing stopped early;
		// the rest stays pending. A part's last published event is its last among the first n.
		var last [Parts]int
		for i := range rows[:n] {
			last[rows[i].Part] = i + 1
		}
		var m pgstore.MoveMarksParams
		for p, i := range last {
			if i > 0 {
				m.Parts = append(m.Parts, int16(p))
				m.LastXids = append(m.LastXids, rows[i-1].Xid)
				m.LastEvents = append(m.LastEvents, rows[i-1].EventID)
			}
		}
		return q.MoveMarks(ctx, m)
	})
	if err == nil {
		err = pubErr
	}
	return pending, database.ClassifyPostgres(err)
}

func (s *pgStore) prune(ctx context.Context, before time.Time) (int64, error) {
	q := pgstore.New(s.pool)
	n, err := q.PruneDelivered(ctx, before)
	if err == nil {
		err = q.PruneProcessed(ctx, before)
	}
	return n, database.ClassifyPostgres(err)
}

func (s *pgStore) addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error {
	env, err := e.MarshalJSON()
	if err != nil {
		return err
	}
	return database.ClassifyPostgres(pgstore.New(s.pool).AddDeadLetter(ctx, pgstore.AddDeadLetterParams{
		Handler: handler, EventID: database.PgID(e.ID), Envelope: string(env), Error: cause.Error(), Attempts: int32(attempts), FailedAt: at,
	}))
}

func (s *pgStore) feed(ctx context.Context, after Position, typ string, limit int) ([]FeedEntry, error) {
	rows, err := pgstore.New(s.pool).Feed(ctx, pgstore.FeedParams{AfterXid: after.Tx, AfterEvent: database.PgID(after.ID), Type: typ, Lim: int64(limit)})
	if err != nil {
		return nil, database.ClassifyPostgres(err)
	}
	out := make([]FeedEntry, len(rows))
	for i, r := range rows {
		e, err := decode(r.Envelope)
		if err != nil {
			return nil, err
		}
		out[i] = FeedEntry{Position: Position{Tx: r.Xid, ID: r.EventID.Bytes}, Event: e}
	}
	return out, nil
}

func (s *pgStore) backlog(ctx context.Context) (int64, time.Time, error) {
	b, err := pgstore.New(s.pool).Backlog(ctx)
	return b.Pending, b.Oldest, database.ClassifyPostgres(err)
}

func (s *pgStore) subscriptions(ctx context.Context) (map[string]bool, error) {
	handlers, err := pgstore.New(s.pool).ListSubscriptions(ctx)
	return setOf(handlers), database.ClassifyPostgres(err)
}

func (s *pgStore) addSubscription(ctx context.Context, handler string, at time.Time) error {
	return database.ClassifyPostgres(pgstore.New(s.pool).AddSubscription(ctx, pgstore.AddSubscriptionParams{Handler: handler, StartedAt: at}))
}

func setOf(handlers []string) map[string]bool {
	set := make(map[string]bool, len(handlers))
	for _, h := range handlers {
		set[h] = true
	}
	return set
}

// liteStore is the SQLite store. SQLite has one writer, which the handlers of the in-process
// broker need too: deliver reads the pending events, publishes them, and only then moves the
// mark. One relay runs per process, and one process per file.
type liteStore struct{ db *sql.DB }

func (s *liteStore) deliver(ctx context.Context, limit int, publish func(context.Context, []Event) (int, error)) (int, error) {
	q := litestore.New(s.db)
	rows, err := q.ClaimPending(ctx, int64(limit))
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
		if err := q.MoveMark(ctx, rows[n-1].Seq); err != nil {
			return len(rows), database.ClassifySQLite(err)
		}
	}
	return len(rows), pubErr
}

func (s *liteStore) prune(ctx context.Context, before time.Time) (int64, error) {
	q := litestore.New(s.db)
	n, err := q.PruneDelivered(ctx, before)
	if err == nil {
		err = q.PruneProcessed(ctx, before)
	}
	return n, database.ClassifySQLite(err)
}

func (s *liteStore) addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error {
	env, err := e.MarshalJSON()
	if err != nil {
		return err
	}
	return database.ClassifySQLite(litestore.New(s.db).AddDeadLetter(ctx, litestore.AddDeadLetterParams{
		Handler: handler, EventID: e.ID, Envelope: string(env), Error: cause.Error(), Attempts: int64(attempts), FailedAt: at,
	}))
}

func (s *liteStore) feed(ctx context.Context, after Position, typ string, limit int) ([]FeedEntry, error) {
	rows, err := litestore.New(s.db).Feed(ctx, litestore.FeedParams{After: after.Tx, Type: typ, Lim: int64(limit)})
	if err != nil {
		return nil, database.ClassifySQLite(err)
	}
	out := make([]FeedEntry, len(rows))
	for i, r := range rows {
		e, err := decode(r.Envelope)
		if err != nil {
			return nil, err
		}
		out[i] = FeedEntry{Position: Position{Tx: r.Seq}, Event: e}
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

func (s *liteStore) subscriptions(ctx context.Context) (map[string]bool, error) {
	handlers, err := litestore.New(s.db).ListSubscriptions(ctx)
	return setOf(handlers), database.ClassifySQLite(err)
}

func (s *liteStore) addSubscription(ctx context.Context, handler string, at time.Time) error {
	return database.ClassifySQLite(litestore.New(s.db).AddSubscription(ctx, litestore.AddSubscriptionParams{Handler: handler, StartedAt: at}))
}

// MarkProcessedPostgres records, in tx (the handler's own transaction), that handler has
// processed the event, and reports whether this is the first time: a handler that gets false
// has already done its work and returns nil. This makes an at-least-once delivery effectively
// once for the handler's own data.
func MarkProcessedPostgres(ctx context.Context, tx pgstore.DBTX, handler string, id uuid.UUID, now time.Time) (bool, error) {
	n, err := pgstore.New(tx).MarkProcessed(ctx, pgstore.MarkProcessedParams{Handler: handler, EventID: database.PgID(id), ProcessedAt: now})
	return n == 1, database.ClassifyPostgres(err)
}

// MarkProcessedAllPostgres is MarkProcessedPostgres of several events in one statement: it
// returns the ids of those handler had not processed before, each once. A batch handler does
// its work for those only, in the same transaction.
func MarkProcessedAllPostgres(ctx context.Context, tx pgstore.DBTX, handler string, ids []uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	first, err := pgstore.New(tx).MarkProcessedAll(ctx, pgstore.MarkProcessedAllParams{Handler: handler, EventIds: database.PgIDs(ids), ProcessedAt: now})
	if err != nil {
		return nil, database.ClassifyPostgres(err)
	}
	out := make([]uuid.UUID, len(first))
	for i, id := range first {
		out[i] = id.Bytes
	}
	return out, nil
}

// MarkProcessedSQLite is MarkProcessedPostgres on SQLite.
func MarkProcessedSQLite(ctx context.Context, tx litestore.DBTX, handler string, id uuid.UUID, now time.Time) (bool, error) {
	n, err := litestore.New(tx).MarkProcessed(ctx, litestore.MarkProcessedParams{Handler: handler, EventID: id, ProcessedAt: now})
	return n == 1, database.ClassifySQLite(err)
}
