package events

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// RelayOptions tune the relay.
type RelayOptions struct {
	// Batch is the most events claimed at once.
	Batch int
	// Poll is how long the relay sleeps when there is nothing to do and nobody wakes it.
	Poll time.Duration
	// Retention is how long delivered events stay in the changes feed (and handlers'
	// processed ids are remembered) before they are pruned.
	Retention time.Duration
	// PruneEvery is how often pruning runs.
	PruneEvery time.Duration
}

// Relay publishes the outbox: it claims pending events in batches, part by part, publishes them
// through the broker in order, marks them delivered, and prunes delivered events after the
// retention period. On PostgreSQL, LISTEN/NOTIFY wakes it as soon as a transaction with events
// commits, and several instances share the parts (an advisory lock per part); polling is the
// fallback. It runs from the application's start to its stop.
type Relay struct {
	store  store
	broker Broker
	log    *zap.Logger
	opts   RelayOptions
	listen *pgxpool.Pool // nil: no notifications (SQLite)
	wake   chan struct{}
	stop   context.CancelFunc
	done   chan struct{}
}

func newRelay(s store, b Broker, log *zap.Logger, opts RelayOptions, listen *pgxpool.Pool) *Relay {
	return &Relay{store: s, broker: b, log: log, opts: opts, listen: listen, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Start starts the relay in the background.
func (r *Relay) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if r.listen != nil {
		go r.notifications(ctx)
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
	var lastPrune time.Time
	for ctx.Err() == nil {
		full, failed := false, false
		for p := range r.store.parts() {
			n, err := r.store.deliver(ctx, p, r.opts.Batch, time.Now(), r.broker.Publish)
			if err != nil && ctx.Err() == nil {
				failed = true
				r.log.Warn("event relay: publishing failed; retrying later", zap.Int("part", p), zap.Error(err))
			}
			full = full || n == r.opts.Batch
		}
		if time.Since(lastPrune) >= r.opts.PruneEvery {
			lastPrune = time.Now()
			if n, err := r.store.prune(ctx, lastPrune.Add(-r.opts.Retention)); err != nil && ctx.Err() == nil {
				r.log.Warn("event relay: pruning failed", zap.Error(err))
			} else if n > 0 {
				r.log.Info("event relay: pruned delivered events", zap.Int64("events", n))
			}
		}
		if full && !failed {
			continue
		}
		t := time.NewTimer(r.opts.Poll)
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
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
	conn, err := r.listen.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection was in LISTEN: close it rather than give it back to the pool.
	defer func() { _ = conn.Hijack().Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN event_outbox"); err != nil {
		return err
	}
	r.Wake() // anything appended before LISTEN took effect
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		r.Wake()
	}
}
