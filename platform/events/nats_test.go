package events

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/natstest"
)

// natsBroker starts a NATS broker on the server for subs, stopped with the test.
func (h *harness) natsBroker(t *testing.T, url string, subs ...Subscription) *NATS {
	t.Helper()
	n := &NATS{url: url, subs: subs, store: h.store, retry: testRetry, log: zaptest.NewLogger(t), metrics: h.metrics(t), retention: time.Hour, ackWait: time.Second}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(ctx) })
	return n
}

// drained waits until every consumer of the stream has been delivered every message and the
// server has every acknowledgement: nothing more is handled, or delivered again, until new
// messages come.
func drained(t *testing.T, n *NATS) {
	t.Helper()
	wait.For(t, patience, "every consumer of the stream to be drained", func() error {
		stream, err := n.js.Stream(ctx, streamName)
		if err != nil {
			return err
		}
		consumers := stream.ListConsumers(ctx)
		var busy []string
		count := 0
		for c := range consumers.Info() {
			count++
			if c.NumPending > 0 || c.NumAckPending > 0 {
				busy = append(busy, fmt.Sprintf("%s (%d pending, %d unacknowledged)", c.Name, c.NumPending, c.NumAckPending))
			}
		}
		switch {
		case consumers.Err() != nil:
			return consumers.Err()
		case count == 0:
			return errors.New("no consumer")
		case len(busy) > 0:
			return fmt.Errorf("busy: %v", busy)
		}
		return nil
	})
}

// once checks that seen holds each of want exactly once.
func once(t *testing.T, seen []Event, want int) {
	t.Helper()
	ids := map[uuid.UUID]int{}
	for _, e := range seen {
		ids[e.ID]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	if len(ids) != want {
		t.Errorf("%d events handled, want %d", len(ids), want)
	}
}

// TestNATSDeliversThroughAnOutage: events written while the broker is down wait in the outbox
// and are delivered once it is back, once each and in order per subject; a publication the
// relay repeats (it died before marking the event delivered) is dropped by JetStream.
func TestNATSDeliversThroughAnOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	srv := natstest.Start(t)
	broker := h.natsBroker(t, srv.URL(), h.subscription())
	h.relayWith(t, broker)
	for n := range 10 {
		h.append(t, event(t, fmt.Sprintf("s%d", n%2), n))
	}
	wait.Until(t, patience, "10 deliveries", func() bool { return len(h.recorded()) >= 10 })
	// A handler records before its acknowledgement is sent, and JetStream redelivers what it
	// has no acknowledgement of: give the last ones time to land before the broker stops.
	time.Sleep(200 * time.Millisecond)

	srv.Stop()
	for n := 10; n < 20; n++ {
		h.append(t, event(t, fmt.Sprintf("s%d", n%2), n))
	}
	time.Sleep(200 * time.Millisecond)
	if pending, _, err := h.store.backlog(ctx); err != nil || pending == 0 {
		t.Fatalf("with the broker down the outbox holds %d events (%v); want them kept", pending, err)
	}
	srv.Restart()
	wait.Until(t, patience, "the outage's events", func() bool { return len(h.recorded()) >= 20 })

	// The relay publishes an event again (as after a crash between publish and commit).
	again := h.recorded()[:3]
	if n, err := broker.Publish(ctx, again); err != nil || n != 3 {
		t.Fatalf("republish: %d %v", n, err)
	}
	drained(t, broker)
	seen := h.recorded()
	once(t, seen, 20)
	inOrderPerSubject(t, seen)
}

// TestNATSTwoInstancesHandleEachEventOnce: two instances (relays and brokers) on one database
// and one NATS: each subscription is one durable consumer, so each event is handled once per
// subscribing module, not once per instance.
func TestNATSTwoInstancesHandleEachEventOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	srv := natstest.Start(t)
	var brokers []*NATS
	for range 2 {
		b := h.natsBroker(t, srv.URL(), h.subscription())
		h.relayWith(t, b)
		brokers = append(brokers, b)
	}
	for n := range 40 {
		h.append(t, event(t, fmt.Sprintf("s%d", n%4), n))
	}
	wait.Until(t, patience, "40 deliveries", func() bool { return len(h.recorded()) >= 40 })
	// Every consumer of the stream drained, whichever instance it is of: a second delivery of
	// an event, by a consumer per instance, would have been handled by then.
	drained(t, brokers[0])
	seen := h.recorded()
	once(t, seen, 40)
	inOrderPerSubject(t, seen)
}
