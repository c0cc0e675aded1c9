package events

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/natstest"
)

// natsBroker starts a NATS broker of the deployment "userservice" on the server for subs,
// stopped with the test.
func (h *harness) natsBroker(t *testing.T, url string, subs ...Subscription) *NATS {
	t.Helper()
	n, err := h.startNATS(t, url, "userservice", subs...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startNATS starts a NATS broker of the deployment prefix on the server for subs; when it
// starts, it is stopped with the test.
func (h *harness) startNATS(t *testing.T, url, prefix string, subs ...Subscription) (*NATS, error) {
	t.Helper()
	n := &NATS{url: url, names: natsNames{Prefix: prefix}, subs: subs, store: h.store, retry: testRetry, log: zaptest.NewLogger(t),
		metrics: h.metrics(t), retention: time.Hour, ackWait: time.Second}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = n.Stop(ctx) })
	return n, nil
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
	eventually(t, "10 deliveries", func() bool { return len(h.recorded()) >= 10 })
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
	eventually(t, "the outage's events", func() bool { return len(h.recorded()) >= 20 })

	// The relay publishes an event again (as after a crash between publish and commit).
	again := h.recorded()[:3]
	if n, err := broker.Publish(ctx, again); err != nil || n != 3 {
		t.Fatalf("republish: %d %v", n, err)
	}
	time.Sleep(300 * time.Millisecond)
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
	for range 2 {
		h.relayWith(t, h.natsBroker(t, srv.URL(), h.subscription()))
	}
	for n := range 40 {
		h.append(t, event(t, fmt.Sprintf("s%d", n%4), n))
	}
	eventually(t, "40 deliveries", func() bool { return len(h.recorded()) >= 40 })
	time.Sleep(300 * time.Millisecond)
	seen := h.recorded()
	once(t, seen, 40)
	inOrderPerSubject(t, seen)
}

// TestNATSDeploymentsSharingAServerKeepTheirEvents: two deployments (each its own database,
// relay and broker) on one NATS server, with the same handler names, as two environments of
// the service would be: with prefixes of their own, each handles exactly its own events.
func TestNATSDeploymentsSharingAServerKeepTheirEvents(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	deployments := map[string]*harness{"alpha": newHarness(t, database.Postgres), "beta": newHarness(t, database.Postgres)}
	written := map[string]map[uuid.UUID]bool{}
	for prefix, h := range deployments {
		n, err := h.startNATS(t, srv.URL(), prefix, h.subscription())
		if err != nil {
			t.Fatal(err)
		}
		h.relayWith(t, n)
		written[prefix] = map[uuid.UUID]bool{}
	}
	for n := range 20 {
		for prefix, h := range deployments {
			e := event(t, fmt.Sprintf("%s-s%d", prefix, n%2), n)
			h.append(t, e)
			written[prefix][e.ID] = true
		}
	}
	for prefix, h := range deployments {
		eventually(t, prefix+"'s 20 events", func() bool { return len(h.recorded()) >= 20 })
	}
	// Anything misrouted would arrive within the deliveries' own time.
	time.Sleep(300 * time.Millisecond)
	for prefix, h := range deployments {
		seen := h.recorded()
		for _, e := range seen {
			if !written[prefix][e.ID] {
				t.Errorf("%s handled %s, an event of another deployment", prefix, e.Subject)
			}
		}
		once(t, seen, 20)
	}
}

// TestNATSRefusesAnotherDeploymentsStream: a stream of this deployment's name that holds
// other subjects (another deployment's, made before prefixes, or by hand) stops start-up with
// an error naming both, and is left as it was.
func TestNATSRefusesAnotherDeploymentsStream(t *testing.T) {
	t.Parallel()
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
	theirs := jetstream.StreamConfig{Name: "GAMMA_EVENTS", Subjects: []string{"delta.events.>"}}
	if _, err := js.CreateStream(ctx, theirs); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, database.Postgres)
	_, err = h.startNATS(t, srv.URL(), "gamma", h.subscription())
	var foreign *ForeignStreamError
	if !errors.As(err, &foreign) {
		t.Fatalf("start on another deployment's stream: %v, want a ForeignStreamError", err)
	}
	for _, want := range []string{"GAMMA_EVENTS", "delta.events.>", "gamma.events.>", "NATS_STREAM"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %s", err, want)
		}
	}
	s, err := js.Stream(ctx, "GAMMA_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Subjects; len(got) != 1 || got[0] != "delta.events.>" {
		t.Errorf("the stream's subjects became %v", got)
	}
}

// TestBrokerBackendLeavesOutCredentials: the start-up log names the NATS servers and the
// stream, never a user's password or a token.
func TestBrokerBackendLeavesOutCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, stream, want string }{
		{"", "userservice", "in-process"},
		{"nats://nats:4222", "userservice", "NATS nats://nats:4222 stream USERSERVICE_EVENTS"},
		{"nats://app:secret@n1:4222, tls://token-secret@n2:4222", "staging", "NATS nats://n1:4222,tls://n2:4222 stream STAGING_EVENTS"},
	} {
		got := brokerBackend(config.Config{NATSURL: tc.url, NATSStream: tc.stream})
		if got.Role != "broker" || got.Use != tc.want {
			t.Errorf("%q: %+v, want broker %q", tc.url, got, tc.want)
		}
	}
}

// TestNATSOutageIsLoggedOnceEachWay: with the broker down while events keep coming, the
// broker and the relay (which retries every few milliseconds here) each warn once that NATS
// is unreachable and once that it is back.
func TestNATSOutageIsLoggedOnceEachWay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, database.Postgres)
	srv := natstest.Start(t)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	n := &NATS{url: srv.URL(), names: natsNames{Prefix: "userservice"}, subs: []Subscription{h.subscription()}, store: h.store, retry: testRetry,
		log: log, metrics: h.metrics(t), retention: time.Hour, ackWait: time.Second}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(ctx) })
	r := newRelay(h.store, n, log, RelayOptions{Batch: 10, Poll: 20 * time.Millisecond, Retention: time.Hour, PruneEvery: time.Hour}, h.db.Pool)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(ctx) })
	h.append(t, event(t, "s", 0))
	eventually(t, "the first event", func() bool { return len(h.recorded()) >= 1 })

	srv.Stop()
	h.append(t, event(t, "s", 1))
	// A publication waits for JetStream's answer up to its timeout: a retry takes seconds.
	eventually(t, "the relay to retry", func() bool { return logs.FilterMessage("NATS still unreachable").Len() >= 1 })
	srv.Restart()
	eventually(t, "the event of the outage", func() bool { return len(h.recorded()) >= 2 })
	eventually(t, "both to see NATS again", func() bool { return logs.FilterMessage("NATS reachable again").Len() >= 2 })

	for _, component := range []string{"events broker", "event relay"} {
		for _, msg := range []string{"NATS unreachable", "NATS reachable again"} {
			if got := logs.FilterMessage(msg).FilterField(zap.String("component", component)).Len(); got != 1 {
				t.Errorf("%s: %d warnings %q, want 1", component, got, msg)
			}
		}
	}
	if w := logs.FilterLevelExact(zapcore.WarnLevel).Len(); w != 4 {
		t.Errorf("%d warnings, want 4: %v", w, logs.FilterLevelExact(zapcore.WarnLevel).All())
	}
}
