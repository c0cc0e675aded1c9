package events

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/platform/database"
)

// notifyEvery is the least time between two notifications of one instance.
const notifyEvery = 50 * time.Millisecond

// Signal tells the relays that events were committed. Writers call Appended after their commit:
// the relay of this instance wakes at once, and on PostgreSQL a NOTIFY, sent on a connection
// of its own and at most every 50 ms, wakes the relays of the other instances. The NOTIFY is
// kept out of the writers' transactions on purpose: PostgreSQL serializes the commits of every
// transaction that notifies (one lock for the whole cluster), which cut registrations by more
// than half when each one notified.
type Signal struct {
	local   chan struct{}
	pool    *pgxpool.Pool // nil on SQLite: one process, nobody else to wake
	pending atomic.Bool
}

// NewSignal returns the signal of the open database.
func NewSignal(db *database.DB) *Signal {
	return &Signal{local: make(chan struct{}, 1), pool: db.Pool}
}

// Appended tells the relays that events were committed. A nil Signal does nothing.
func (s *Signal) Appended() {
	if s == nil {
		return
	}
	select {
	case s.local <- struct{}{}:
	default:
	}
	if s.pool != nil && s.pending.CompareAndSwap(false, true) {
		go s.notify()
	}
}

func (s *Signal) notify() {
	defer s.pending.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A failure only delays the other instances' relays until they poll.
	_, _ = s.pool.Exec(ctx, "SELECT pg_notify('event_outbox', '')")
	time.Sleep(notifyEvery)
}

// woken returns the channel on which this instance's relay learns of appended events.
func (s *Signal) woken() <-chan struct{} { return s.local }
