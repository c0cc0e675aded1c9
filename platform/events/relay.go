package events

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/logging"
)

// RelayOptions tune the relay.
type RelayOptions struct {
	// Batch is the most events claimed at once.
	Batch int
	// Poll is how long the relay sleeps when there is nothing to do and nobody wakes it.
	Poll time.Duration
	// Linger is the least time between two deliveries after one that was not full. Under
	// load, the events of many commits gather into one batch instead of each commit costing a
	// transaction of the relay and one of each consumer; at most Linger is added to an event's
	// delivery.
	Linger time.Duration
	// Retention is how long delivered events stay in the changes feed (and handlers'
	// processed ids are remembered) before they are pruned.
	Retention time.Duration
	// PruneEvery is how often pruning runs.
	PruneEvery time.Duration
}

// Relay publishes the outbox: it reads the events past the marks of the parts it holds in
// batches (a subject's events are all in one part, in order), publishes them through the broker
// in order, moves each part's mark past them, and prunes published events after the retention
// period. A batch takes every part no other relay holds, in one transaction: one set of round
// trips per batch, and one batch for each handler, however the events fall into parts. On PostgreSQL, LISTEN/NOTIFY wakes it as soon as a transaction with events
// commits, and several instances share the parts (an advisory lock per part); polling is the
// fallback. It runs from the application's start to its stop.
type Relay struct {
	store  store
	broker Broker
	log    *zap.Logger
	// database and nats are what the relay depends on, each logged once when it goes away and
	// once when it is back, however often the relay retries in between.
	database, nats *logging.Dependency
	opts           RelayOptions
	listen         *pgxpool.Pool // nil: no notifications (SQLite)
	wake           chan struct{}
	signal         <-chan struct{} // this instance's writers' Signal; nil: none
	stop           context.CancelFunc
	done           chan struct{}
}

func newRelay(s store, b Broker, log *zap.Logger, opts RelayOptions, listen *pgxpool.Pool) *Relay {
	return &Relay{store: s, broker: b, log: log, opts: opts, listen: listen, done: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		database: logging.NewDependency(log, "event relay", "database"), nats: logging.NewDependency(log, "event relay", "NATS")}
}

// Start starts the relay in the background.
func (r *Relay) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if r.listen != nil {
		go r.notifications(ctx)
	}
	if r.signal != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-r.signal:
					r.Wake()
				}
			}
		}()
	}
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
	return nil
}

// Stop stops the relay and waits for the batch in hand, if any, to finish.
func (r *Relay) Stop(ctx context.Context) error {
	r.stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wake makes the relay look for pending events now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.deliver(ctx) })
	wg.Go(func() { r.prune(ctx) })
	wg.Wait()
}

// deliver publishes until ctx ends: batch after batch while there are full ones, then it waits
// for a notification or the poll interval.
func (r *Relay) deliver(ctx context.Context) {
	for ctx.Err() == nil {
		began := time.Now()
		n, err := r.store.deliver(ctx, r.opts.Batch, r.broker.Publish)
		if ctx.Err() == nil {
			r.outcome(err, n > 0, "event relay: publishing failed; retrying later")
		}
		if err == nil && n == r.opts.Batch {
			continue
		}
		t := time.NewTimer(r.opts.Poll)
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
		if sleep(ctx, r.opts.Linger-time.Since(began)) != nil {
			return
		}
	}
}

// prune deletes delivered events older than the retention period, every PruneEvery.
func (r *Relay) prune(ctx context.Context) {
	for {
		n, err := r.store.prune(ctx, time.Now().Add(-r.opts.Retention))
		if ctx.Err() == nil {
			r.outcome(err, false, "event relay: pruning failed")
		}
		if n > 0 {
			r.log.Info("event relay: pruned delivered events", zap.Int64("events", n))
		}
		if sleep(ctx, r.opts.PruneEvery) != nil {
			return
		}
	}
}

// outcome logs what a try of the relay's came to (published: it gave the broker events, so
// that a success says the broker is there too): an outage of a dependency on its transitions
// only (the relay tries again within a second, for as long as it lasts), any other failure (a
// fault, not an outage) with what, each time.
func (r *Relay) outcome(err error, published bool, what string) {
	switch {
	case err == nil:
		r.database.Reachable()
		if published {
			r.nats.Reachable()
		}
	case errors.Is(err, errStarting):
	// The broker's own failure first: a store wraps what publishing returned, and some of
	// NATS's errors (a timeout) would pass for the database's.
	case errors.Is(err, errNATSUnavailable):
		r.database.Reachable()
		r.nats.Unreachable(err)
	case errors.Is(err, database.ErrUnavailable):
		r.database.Unreachable(err)
	default:
		r.log.Warn(what, zap.Error(err))
	}
}

// notifications listens for the outbox's notifications on a connection of its own, waking the
// relay at each; it reconnects after an error.
func (r *Relay) notifications(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		r.log.Debug("event relay: LISTEN failed; polling until it is back", zap.Error(err))
		if sleep(ctx, r.opts.Poll) != nil {
			return
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context) error {
	// A connection of its own, outside the pool: it stays in LISTEN for the application's life,
	// and must not take a connection from requests and handlers.
	conn, err := pgx.ConnectConfig(ctx, r.listen.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN event_outbox"); err != nil {
		return err
	}
	r.Wake() // anything appended before LISTEN took effect
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		r.Wake()
	}
}
