package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/events/pgstore"
	eventsql "github.com/acme/userservice/queries/events"
)

var ctx = context.Background()

func TestEnvelopeIsCloudEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	e, err := New("userservice/example", "userservice.example.created.v1", "s1", at, "self", "req-1", map[string]string{"user_id": "s1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"specversion": "1.0", "id": e.ID.String(), "source": "userservice/example", "type": "userservice.example.created.v1",
		"subject": "s1", "time": "2026-01-02T03:04:05.000006Z", "datacontenttype": "application/json",
		"actor": "self", "requestid": "req-1",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if e.ID.Version() != 7 {
		t.Errorf("id %s is not a UUIDv7", e.ID)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.ID != e.ID || string(back.Data) != `{"user_id":"s1"}` || !back.Time.Equal(at) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"specversion":"0.3","id":"`+e.ID.String()+`","source":"s","type":"t"}`), &back); err == nil {
		t.Error("specversion 0.3 accepted")
	}
}

func TestEnvelopeDecoding(t *testing.T) {
	t.Parallel()
	const id = "01938a3c-0000-7000-8000-000000000001"
	for _, c := range []struct {
		name, json string
		ok         bool
	}{
		{"minimal", `{"specversion":"1.0","id":"` + id + `","source":"s","type":"t","time":"2026-01-02T03:04:05Z"}`, true},
		{"unknown attributes skipped", `{"specversion":"1.0","id":"` + id + `","source":"s","type":"t","time":"2026-01-02T03:04:05Z","x":{"y":[1]}}`, true},
		{"null data", `{"specversion":"1.0","id":"` + id + `","source":"s","type":"t","time":"2026-01-02T03:04:05Z","data":null}`, true},
		{"no id", `{"specversion":"1.0","source":"s","type":"t"}`, false},
		{"id not a uuid", `{"specversion":"1.0","id":"x","source":"s","type":"t"}`, false},
		{"id a number", `{"specversion":"1.0","id":5,"source":"s","type":"t"}`, false},
		{"time not a time", `{"specversion":"1.0","id":"` + id + `","source":"s","type":"t","time":"yesterday"}`, false},
		{"not an object", `[1]`, false},
		{"truncated", `{"specversion":"1.0","id":"` + id + `"`, false},
	} {
		var e Event
		if err := e.UnmarshalJSON([]byte(c.json)); (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
		} else if c.ok && e.Data != nil {
			t.Errorf("%s: data %s, want none", c.name, e.Data)
		}
	}
	if _, err := (Event{ID: uuid.New(), Source: "s", Type: "t", Data: json.RawMessage(`{"a":`)}).MarshalJSON(); err == nil {
		t.Error("data that is not JSON was encoded")
	}
}

// envelopeByReflection is the envelope as encoding/json sees it: the baseline of
// BenchmarkEnvelope.
type envelopeByReflection struct {
	SpecVersion     string          `json:"specversion"`
	ID              uuid.UUID       `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Actor           string          `json:"actor,omitempty"`
	RequestID       string          `json:"requestid,omitempty"`
}

// BenchmarkEnvelope encodes and decodes a registration's envelope, field by field (as the
// outbox and the relay do) and by reflection (encoding/json, the baseline).
func BenchmarkEnvelope(b *testing.B) {
	e, err := New("userservice/example", "userservice.example.created.v1", uuid.NewString(), time.Now(), ActorSelf, "0123456789abcdef01234567",
		map[string]any{"user_id": uuid.NewString(), "username": "someone", "email": "someone@example.com", "role": "user", "is_active": true})
	if err != nil {
		b.Fatal(err)
	}
	env, err := e.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	reflected := envelopeByReflection{SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time,
		DataContentType: "application/json", Data: e.Data, Actor: e.Actor, RequestID: e.RequestID}
	b.Run("encode/fields", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/reflection", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(reflected); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/fields", func(b *testing.B) {
		for b.Loop() {
			var back Event
			if err := back.UnmarshalJSON(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/reflection", func(b *testing.B) {
		for b.Loop() {
			var back envelopeByReflection
			if err := json.Unmarshal(env, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// harness is an outbox on a fresh database of the engine, with a recorder subscribed to every
// event.
type harness struct {
	db    *database.DB
	store store
	mu    sync.Mutex
	seen  []Event
	fail  func(Event) error // a failure to return instead of recording, when not nil
}

func newHarness(t *testing.T, engine database.Engine) *harness {
	t.Helper()
	db := dbtest.Open(t, engine, eventsql.Migrations())
	s, err := newStore(storeParams{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{db: db, store: s}
}

func (h *harness) handle(_ context.Context, e Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		if err := h.fail(e); err != nil {
			return err
		}
	}
	h.seen = append(h.seen, e)
	return nil
}

func (h *harness) recorded() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// relay starts a relay delivering through the embedded broker to subs (the recorder when
// none), stopped with the test.
func (h *harness) relay(t *testing.T, subs ...Subscription) *Relay {
	t.Helper()
	if len(subs) == 0 {
		subs = []Subscription{h.subscription()}
	}
	local := &Local{subs: subs, store: h.store, retry: testRetry, log: zaptest.NewLogger(t), metrics: h.metrics(t)}
	return h.relayWith(t, local)
}

// testRetry retries quickly.
var testRetry = Retry{Attempts: 3, First: time.Millisecond, Max: 2 * time.Millisecond}

func (h *harness) subscription() Subscription {
	return Subscription{Handler: "test.recorder", Types: []string{"*"}, Handle: h.handle}
}

func (h *harness) metrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := newMetrics(prometheus.NewRegistry(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// relayWith starts a relay publishing through b, stopped with the test.
func (h *harness) relayWith(t *testing.T, b Broker) *Relay {
	t.Helper()
	var listen = h.db.Pool // nil on SQLite
	r := newRelay(h.store, b, zaptest.NewLogger(t), RelayOptions{Batch: 10, Poll: 20 * time.Millisecond, Retention: time.Hour, PruneEvery: time.Hour}, listen)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(ctx) })
	return r
}

// append writes events in one transaction of their own.
func (h *harness) append(t *testing.T, evs ...Event) {
	t.Helper()
	if h.db.Engine == database.MongoDB {
		appendMongo(t, h.db.Mongo, evs...)
		return
	}
	if h.db.Engine == database.Postgres {
		if err := AppendPostgres(ctx, h.db.Pool, evs...); err != nil {
			t.Fatal(err)
		}
		return
	}
	tx, err := h.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := AppendSQLite(ctx, tx, evs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func event(t *testing.T, subject string, n int) Event {
	t.Helper()
	e, err := New("test", "test.happened.v1", subject, time.Now(), ActorSystem, "", map[string]int{"n": n})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// patience is how long a test waits for what the relay or a broker does in the background.
// Generous: the whole suite shares two CPUs, and an event waits for every older transaction on
// the server, other tests' too.
const patience = 30 * time.Second

// inOrderPerSubject checks that each subject's events arrived in the order of their n.
func inOrderPerSubject(t *testing.T, seen []Event) {
	t.Helper()
	last := map[string]int{}
	for _, e := range seen {
		var p struct{ N int }
		if err := e.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[e.Subject]; ok && p.N <= prev {
			t.Fatalf("subject %s: event %d after %d", e.Subject, p.N, prev)
		}
		last[e.Subject] = p.N
	}
}

func TestRelayDeliversEachEventOnceInOrderAndFeedsIt(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, engine)
			var want []uuid.UUID
			for n := range 25 {
				e := event(t, fmt.Sprintf("subject-%d", n%3), n)
				h.append(t, e)
				want = append(want, e.ID)
			}
			h.relay(t)
			// A part's mark moves when its transaction commits, just after the deliveries.
			var entries []FeedEntry
			wait.Until(t, patience, "25 deliveries, fed, behind the marks", func() bool {
				var err error
				if entries, err = h.store.feed(ctx, Position{}, "", 100); err != nil {
					t.Fatal(err)
				}
				n, _, err := h.store.backlog(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return len(h.recorded()) >= 25 && len(entries) >= 25 && n == 0
			})
			seen := h.recorded()
			inOrderPerSubject(t, seen)
			var fed []uuid.UUID
			after := Position{}
			for i, e := range entries {
				if !isAfter(e.Position, after) {
					t.Fatalf("entry %d at position %v, after %v", i, e.Position, after)
				}
				after = e.Position
				fed = append(fed, e.Event.ID)
			}
			slices.SortFunc(fed, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
			if !slices.Equal(fed, want) || len(seen) != 25 {
				t.Fatalf("fed %d events, delivered %d; want the 25 written, once each", len(fed), len(seen))
			}
			if only, err := h.store.feed(ctx, Position{}, "other.type.v1", 100); err != nil || len(only) != 0 {
				t.Fatalf("type filter: %d %v", len(only), err)
			}
		})
	}
}

// TestFailingHandlerIsRetriedThenDeadLettered: a handler that keeps failing does not stop the
// others or the next events; its event is recorded as a dead letter. An outage is not the
// event's fault: the event stays pending and is delivered once the dependency is back.
func TestFailingHandlerIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, engine)
			poison, outage, after := event(t, "a", 1), event(t, "b", 1), event(t, "a", 2)
			var mu sync.Mutex
			attempts := map[uuid.UUID]int{}
			h.fail = func(e Event) error {
				mu.Lock()
				defer mu.Unlock()
				attempts[e.ID]++
				switch {
				case e.ID == poison.ID:
					return errors.New("cannot handle this one")
				case e.ID == outage.ID && attempts[e.ID] == 1:
					return fmt.Errorf("store: %w", database.ErrUnavailable)
				}
				return nil
			}
			var other []uuid.UUID
			var otherMu sync.Mutex
			h.append(t, poison, outage, after)
			h.relay(t,
				Subscription{Handler: "test.flaky", Types: []string{"test.*"}, Handle: h.handle},
				Subscription{Handler: "test.other", Types: []string{"test.happened.v1"}, Handle: func(_ context.Context, e Event) error {
					otherMu.Lock()
					defer otherMu.Unlock()
					other = append(other, e.ID)
					return nil
				}},
			)
			wait.Until(t, patience, "the outage to pass", func() bool { return len(h.recorded()) == 2 })
			// Subjects a and b may be in different parts: only each one's order is kept.
			got := []uuid.UUID{h.recorded()[0].ID, h.recorded()[1].ID}
			if !slices.Contains(got, outage.ID) || !slices.Contains(got, after.ID) {
				t.Fatalf("flaky handler recorded %v", got)
			}
			mu.Lock()
			if attempts[poison.ID] != 3 {
				t.Errorf("poison tried %d times, want 3", attempts[poison.ID])
			}
			mu.Unlock()
			wait.Until(t, patience, "the other handler", func() bool { otherMu.Lock(); defer otherMu.Unlock(); return len(other) == 3 })
			var handler, env, cause string
			var n int
			row := queryRow(h.db, "SELECT handler, envelope, error, attempts FROM event_dead_letters")
			if err := row.Scan(&handler, &env, &cause, &n); err != nil {
				t.Fatal(err)
			}
			var dead Event
			if err := json.Unmarshal([]byte(env), &dead); err != nil || dead.ID != poison.ID || handler != "test.flaky" || n != 3 || cause != "cannot handle this one" {
				t.Fatalf("dead letter: %s %s %q %d %v", handler, dead.ID, cause, n, err)
			}
		})
	}
}

func queryRow(db *database.DB, q string) interface{ Scan(...any) error } {
	if db.Engine == database.Postgres {
		return db.Pool.QueryRow(ctx, q)
	}
	return db.SQL.QueryRowContext(ctx, q)
}

// TestTwoRelaysShareTheOutboxAndTheFeedMissesNothing: two relays on one PostgreSQL outbox
// while writers commit concurrently; every event is delivered once, in order per subject, and
// a reader walking the feed meanwhile sees each event exactly once, in position order.
func TestTwoRelaysShareTheOutboxAndTheFeedMissesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	h.relay(t)
	h.relay(t)
	const writers, perWriter = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range perWriter {
				h.append(t, event(t, fmt.Sprintf("w%d-s%d", w, n%4), n))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	walkFeed(t, h.store, writers*perWriter)
	<-done
	wait.Until(t, patience, "every delivery", func() bool { return len(h.recorded()) >= writers*perWriter })
	delivered := h.recorded()
	if len(delivered) != writers*perWriter {
		t.Fatalf("%d deliveries of %d events", len(delivered), writers*perWriter)
	}
	inOrderPerSubject(t, delivered)
}

// walkFeed reads the feed from its start in pages of 7, as events are written, until it has
// shown want events: each entry after the one before it, no event twice.
func walkFeed(t *testing.T, s store, want int) {
	t.Helper()
	var after Position
	fed := map[uuid.UUID]bool{}
	// Polled often: the reader is the test's workload, which must keep up with the writers.
	wait.For(t, patience, fmt.Sprintf("the feed to show %d events", want), func() error {
		for len(fed) < want { // page on while there are pages; wait once caught up
			page, err := s.feed(ctx, after, "", 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				if !isAfter(e.Position, after) || fed[e.Event.ID] {
					t.Fatalf("event %s at %v, after %v, or fed twice", e.Event.ID, e.Position, after)
				}
				after, fed[e.Event.ID] = e.Position, true
			}
			if len(page) == 0 {
				return fmt.Errorf("it showed %d", len(fed))
			}
		}
		return nil
	}, wait.Every(2*time.Millisecond))
}

// countingStore is a store that watches the relay's passes over the outbox (its deliver
// calls), each once it has returned: what it published handled, what it had to commit
// committed.
type countingStore struct {
	store
	// delivers counts the passes.
	delivers atomic.Int64
	// failedBatch is how many events the last failed pass offered the broker.
	failedBatch atomic.Int64
}

func (s *countingStore) deliver(ctx context.Context, limit int, publish func(context.Context, []Event) (int, error)) (int, error) {
	var offered int
	n, err := s.store.deliver(ctx, limit, func(ctx context.Context, evs []Event) (int, error) {
		offered = len(evs)
		return publish(ctx, evs)
	})
	if err != nil {
		s.failedBatch.Store(int64(offered))
	}
	s.delivers.Add(1)
	return n, err
}

// isAfter reports whether p comes after q in the feed's order.
func isAfter(p, q Position) bool {
	if p.Tx != q.Tx {
		return p.Tx > q.Tx
	}
	return slices.Compare(p.ID[:], q.ID[:]) > 0
}

// TestTheFeedWaitsForEarlierTransactions: a transaction that began writing before another
// commits after it; neither the feed nor the relay may show the later one's event first, or a
// reader past it would never see the earlier one.
func TestTheFeedWaitsForEarlierTransactions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	early, late := event(t, "s", 1), event(t, "s", 2)
	tx, err := h.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := AppendPostgres(ctx, tx, early); err != nil {
		t.Fatal(err)
	}
	h.append(t, late) // committed, with a later transaction id
	if entries, err := h.store.feed(ctx, Position{}, "", 10); err != nil || len(entries) != 0 {
		t.Fatalf("the feed showed %d events while an earlier writer was open (%v)", len(entries), err)
	}
	// The relay had its chances: it went over the outbox, the late event committed, twice.
	passes := &countingStore{store: h.store}
	h.store = passes
	h.relay(t)
	wait.Until(t, patience, "two passes of the relay", func() bool { return passes.delivers.Load() >= 2 })
	if seen := h.recorded(); len(seen) != 0 {
		t.Fatalf("the relay published %d events while an earlier writer was open", len(seen))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, patience, "both events, in order", func() bool { return len(h.recorded()) == 2 })
	if seen := h.recorded(); seen[0].ID != early.ID || seen[1].ID != late.ID {
		t.Fatalf("published %s then %s; want the early writer's first", seen[0].ID, seen[1].ID)
	}
	entries, err := h.store.feed(ctx, Position{}, "", 10)
	if err != nil || len(entries) != 2 || entries[0].Event.ID != early.ID || entries[1].Event.ID != late.ID {
		t.Fatalf("the feed: %+v %v", entries, err)
	}
}

// TestPartLocksAreTheSchemas: advisory locks belong to the whole database; a service in
// another schema of it (tests run so) holding its parts must not stop this one's relay.
func TestPartLocksAreTheSchemas(t *testing.T) {
	t.Parallel()
	other, h := newHarness(t, database.Postgres), newHarness(t, database.Postgres)
	tx, err := other.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for p := range Parts {
		if locked, err := pgstore.New(tx).TryLockPart(ctx, int32(p)); err != nil || !locked {
			t.Fatalf("the other schema's part %d: %v %v", p, locked, err)
		}
	}
	e := event(t, "s", 1)
	h.append(t, e)
	h.relay(t)
	wait.Until(t, patience, "the delivery, while the other schema holds its parts", func() bool { return len(h.recorded()) == 1 })
	// In the same schema, a held part is held: another transaction there does not get it.
	tx2, err := other.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx2.Rollback(ctx) }()
	if locked, err := pgstore.New(tx2).TryLockPart(ctx, int32(part("s"))); err != nil || locked {
		t.Fatalf("a second relay of the same schema got a held part: %v %v", locked, err)
	}
}

// TestABatchTakesTheFreePartsAndMovesTheirMarks: one delivery takes the pending events of every
// part no other relay holds, in one publish; when publishing stops early, each part's mark moves
// past its own published events only; a held part's events wait for its holder to let go.
func TestABatchTakesTheFreePartsAndMovesTheirMarks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	// Three subjects in three parts.
	subjects := map[int]string{}
	for i := 0; len(subjects) < 3; i++ {
		s := fmt.Sprintf("subject-%d", i)
		if _, ok := subjects[part(s)]; !ok {
			subjects[part(s)] = s
		}
	}
	var a, b, c string
	for _, s := range subjects {
		switch {
		case a == "":
			a = s
		case b == "":
			b = s
		default:
			c = s
		}
	}
	a1, b1, a2, c1 := event(t, a, 1), event(t, b, 1), event(t, a, 2), event(t, c, 1)
	for _, e := range []Event{a1, b1, a2, c1} { // four transactions, in this order
		h.append(t, e)
	}
	held, err := h.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Rollback(ctx) }()
	if locked, err := pgstore.New(held).TryLockPart(ctx, int32(part(c))); err != nil || !locked {
		t.Fatalf("holding c's part: %v %v", locked, err)
	}
	deliver := func(accept int) []Event {
		t.Helper()
		var got []Event
		_, err := h.store.deliver(ctx, 10, func(_ context.Context, evs []Event) (int, error) {
			got = evs
			return min(accept, len(evs)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Until every transaction older than the appends has finished (other tests' on the same
	// server too), not all are deliverable: wait, publishing nothing (no mark moves).
	wait.Until(t, patience, "three deliverable events", func() bool { return len(deliver(0)) == 3 })
	ids := func(evs []Event) []uuid.UUID {
		out := make([]uuid.UUID, len(evs))
		for i, e := range evs {
			out[i] = e.ID
		}
		return out
	}
	// Every free part in one publish, in commit order; two accepted: a1 and b1.
	if got := ids(deliver(2)); !slices.Equal(got, ids([]Event{a1, b1, a2})) {
		t.Fatalf("first delivery %v; want a1, b1, a2 (c's part is held)", got)
	}
	// a's mark moved past a1 only, b's past b1.
	if got := ids(deliver(10)); !slices.Equal(got, ids([]Event{a2})) {
		t.Fatalf("second delivery %v; want a2", got)
	}
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, patience, "c1 deliverable", func() bool { return len(deliver(0)) == 1 })
	if got := ids(deliver(10)); !slices.Equal(got, ids([]Event{c1})) {
		t.Fatalf("after c's part was let go: %v; want c1", got)
	}
	if n, err := h.store.deliver(ctx, 10, func(context.Context, []Event) (int, error) {
		t.Fatal("nothing is pending")
		return 0, nil
	}); err != nil || n != 0 {
		t.Fatalf("a last delivery: %d %v", n, err)
	}
}

// TestPruneKeepsWhatIsPendingOrRecent: delivered events older than the retention period go,
// with the handlers' processed ids; pending and recent ones stay.
func TestPruneKeepsWhatIsPendingOrRecent(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, engine)
			// The old and the pending event happened long ago; only the old one is delivered.
			long := time.Now().Add(-48 * time.Hour)
			old, recent, pending := event(t, "a", 1), event(t, "a", 2), event(t, "a", 3)
			old.Time, pending.Time = long, long
			h.append(t, old, recent)
			for i := range 2 {
				// Until every transaction older than the append's has finished (other tests' on
				// the same server too), the event is not deliverable yet.
				wait.Until(t, patience, fmt.Sprintf("delivery %d", i), func() bool {
					n, err := h.store.deliver(ctx, 1, func(context.Context, []Event) (int, error) { return 1, nil })
					if err != nil {
						t.Fatal(err)
					}
					return n == 1
				})
			}
			h.append(t, pending)
			if h.db.Engine == database.Postgres {
				if _, err := MarkProcessedPostgres(ctx, h.db.Pool, "test", old.ID, long); err != nil {
					t.Fatal(err)
				}
			} else if _, err := MarkProcessedSQLite(ctx, h.db.SQL, "test", old.ID, long); err != nil {
				t.Fatal(err)
			}
			n, err := h.store.prune(ctx, time.Now().Add(-24*time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("pruned %d: %v", n, err)
			}
			var left, processed int
			if err := queryRow(h.db, "SELECT count(*) FROM event_outbox").Scan(&left); err != nil || left != 2 {
				t.Fatalf("%d events left (%v), want the recent and the pending one", left, err)
			}
			if err := queryRow(h.db, "SELECT count(*) FROM event_processed").Scan(&processed); err != nil || processed != 0 {
				t.Fatalf("%d processed ids left (%v)", processed, err)
			}
			var entries []FeedEntry
			wait.Until(t, patience, "the recent and the pending event in the feed", func() bool {
				var err error
				if entries, err = h.store.feed(ctx, Position{}, "", 10); err != nil {
					t.Fatal(err)
				}
				return len(entries) == 2
			})
			if entries[0].Event.ID != recent.ID || entries[1].Event.ID != pending.ID {
				t.Fatalf("the feed after pruning: %+v", entries)
			}
		})
	}
}

// TestBatchHandlersGetTheBatchAndFallBackToEvents: a subscription that handles batches gets a
// relay's batch in one call; when the batch fails, each event is handled on its own, with
// retries, so that only the event at fault is dead-lettered.
func TestBatchHandlersGetTheBatchAndFallBackToEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.SQLite)
	poison := event(t, "a", 3)
	var mu sync.Mutex
	var batches [][]Event
	var singles []uuid.UUID
	sub := Subscription{Handler: "test.batch", Types: []string{"test.*"},
		Handle: func(_ context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			if e.ID == poison.ID {
				return errors.New("poison")
			}
			singles = append(singles, e.ID)
			return nil
		},
		HandleBatch: func(_ context.Context, evs []Event) error {
			mu.Lock()
			defer mu.Unlock()
			batches = append(batches, slices.Clone(evs))
			if slices.ContainsFunc(evs, func(e Event) bool { return e.ID == poison.ID }) {
				return errors.New("poison in the batch")
			}
			return nil
		}}
	for n := range 3 {
		h.append(t, event(t, "a", n))
	}
	h.relay(t, sub)
	wait.Until(t, patience, "the first batch", func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 })
	h.append(t, event(t, "a", 4), poison)
	wait.Until(t, patience, "the second batch, then its events one by one", func() bool { mu.Lock(); defer mu.Unlock(); return len(singles) == 1 })
	mu.Lock()
	sizes := make([]int, len(batches))
	for i, b := range batches {
		sizes[i] = len(b)
	}
	mu.Unlock()
	if !slices.Equal(sizes, []int{3, 2}) {
		t.Fatalf("batches of %v, want 3 then 2", sizes)
	}
	wait.Until(t, patience, "the poison's dead letter", func() bool {
		var dead int
		if err := queryRow(h.db, "SELECT count(*) FROM event_dead_letters").Scan(&dead); err != nil {
			t.Fatal(err)
		}
		return dead == 1
	})
}
