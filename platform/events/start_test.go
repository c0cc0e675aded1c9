package events

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/natstest"
)

// recorder is a subscription's handler that keeps what it is given, duplicates included.
type recorder struct {
	mu   sync.Mutex
	seen []Event
}

func (r *recorder) handle(_ context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, e)
	return nil
}

// counts returns how many times each event was handled.
func (r *recorder) counts() map[uuid.UUID]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[uuid.UUID]int{}
	for _, e := range r.seen {
		n[e.ID]++
	}
	return n
}

// has reports whether every one of ids was handled.
func (r *recorder) has(ids []uuid.UUID) bool {
	n := r.counts()
	return !slices.ContainsFunc(ids, func(id uuid.UUID) bool { return n[id] == 0 })
}

// instance starts what one run of the service has of the events: a broker over subs (NATS at
// url, or the embedded one when url is empty) and a relay; it returns the function that stops
// them, as the service's stop does (the relay first).
func (h *harness) instance(t *testing.T, url string, subs ...Subscription) (stop func()) {
	t.Helper()
	var (
		b         Broker
		stopBroke func()
	)
	if url != "" {
		n, err := h.startNATS(t, url, "userservice", subs...)
		if err != nil {
			t.Fatal(err)
		}
		b, stopBroke = n, func() { _ = n.Stop(ctx) }
	} else {
		l := &Local{subs: subs, store: h.store, retry: testRetry, log: zaptest.NewLogger(t), metrics: h.metrics(t)}
		if err := l.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Stop(ctx) })
		b, stopBroke = l, func() { _ = l.Stop(ctx) }
	}
	r := h.relayWith(t, b)
	return func() {
		// A relay stopped in the middle of a batch leaves it pending, to publish again at the
		// next start (at least once): what this run handled is published for good first.
		eventually(t, "an empty outbox", func() bool {
			pending, _, err := h.store.backlog(ctx)
			return err == nil && pending == 0
		})
		_ = r.Stop(ctx)
		stopBroke()
	}
}

// appendN appends n events on subjects of their own and returns their ids.
func (h *harness) appendN(t *testing.T, tag string, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range n {
		e := event(t, fmt.Sprintf("%s-%d", tag, i), i)
		h.append(t, e)
		ids[i] = e.ID
	}
	return ids
}

// TestANewSubscriptionStartsWhereItSays: a subscription added to a service that has already
// published events (a module added in a new release) gets those events only when it starts at
// the beginning, on either broker; at its next start it goes on from where it was, whatever
// its start says, so the past is never read twice.
func TestANewSubscriptionStartsWhereItSays(t *testing.T) {
	t.Parallel()
	type broker struct {
		name   string
		engine database.Engine
		nats   bool
	}
	brokers := []broker{{"embedded/postgres", database.Postgres, false}, {"embedded/sqlite", database.SQLite, false},
		{"embedded/mongodb", database.MongoDB, false}, {"nats", database.Postgres, true}}
	for _, b := range brokers {
		for _, start := range []Start{StartNow, StartBeginning} {
			t.Run(b.name+"/"+start.String(), func(t *testing.T) {
				t.Parallel()
				var h *harness
				if b.engine == database.MongoDB {
					h = newMongoHarness(t)
				} else {
					h = newHarness(t, b.engine)
				}
				url := ""
				if b.nats {
					url = natstest.Start(t).URL()
				}
				existing := h.subscription()

				// The service as it was: one subscription, which gets the past events.
				stop := h.instance(t, url, existing)
				past := h.appendN(t, "past", 5)
				eventually(t, "the past events", func() bool { return len(h.recorded()) >= 5 })
				stop()

				// The next release adds a subscription.
				late := &recorder{}
				added := Subscription{Handler: "test.late", Types: []string{"*"}, Handle: late.handle, Start: start}
				stop = h.instance(t, url, existing, added)
				fresh := h.appendN(t, "fresh", 3)
				want := fresh
				if start == StartBeginning {
					want = append(slices.Clone(past), fresh...)
				}
				eventually(t, fmt.Sprintf("%d events for the new subscription", len(want)), func() bool { return late.has(want) })
				stop()
				got := late.counts()
				for _, id := range past {
					if seen := got[id] > 0; seen != (start == StartBeginning) {
						t.Errorf("starting %s, the new subscription handled a past event: %v", start, seen)
					}
				}
				if len(got) != len(want) {
					t.Errorf("the new subscription handled %d events, want %d", len(got), len(want))
				}

				// Started again, it goes on from where it was: the past is not read again.
				stop = h.instance(t, url, existing, added)
				later := h.appendN(t, "later", 1)
				eventually(t, "the event after the restart", func() bool { return late.has(later) })
				stop()
				again := late.counts()
				for _, id := range past {
					if again[id] != got[id] {
						t.Errorf("after a restart a past event was handled %d times, before it %d", again[id], got[id])
					}
				}
			})
		}
	}
}

// TestNATSKeepsAnExistingConsumersStart: a consumer made before subscriptions had a start (or
// with another one) is used as it is: the server refuses to change a consumer's start, and a
// broker asking it to would never be set up.
func TestNATSKeepsAnExistingConsumersStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	names := natsNames{Prefix: "userservice"}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: names.stream(), Subjects: []string{names.subjects()}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	// As the previous version made every consumer: from the stream's first event.
	if _, err := js.CreateConsumer(ctx, names.stream(), jetstream.ConsumerConfig{
		Durable: consumerName("test.recorder"), AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubject: names.subjects(),
	}); err != nil {
		t.Fatal(err)
	}
	h.relayWith(t, h.natsBroker(t, srv.URL(), h.subscription())) // StartNow
	ids := h.appendN(t, "e", 3)
	eventually(t, "the events through the existing consumer", func() bool { return len(h.recorded()) >= len(ids) })
	c, err := js.Consumer(ctx, names.stream(), consumerName("test.recorder"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.DeliverPolicy; got != jetstream.DeliverAllPolicy {
		t.Errorf("the consumer's start became %v", got)
	}
}
