package events

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
)

// The JetStream stream of the service's events: one subject per event type under the prefix.
const (
	streamName    = "USERSERVICE_EVENTS"
	subjectPrefix = "userservice.events."
)

// NATS is the broker when NATS_URL is set: events go to a JetStream stream (created when
// missing), each with Nats-Msg-Id = the event's id so that JetStream drops a relay's duplicate
// publication; every subscription is a durable consumer shared by all instances, so an event
// is handled once per subscribing module, not once per instance. A consumer has one message in
// flight at a time, which keeps each subject's order through retries; a handler failing every
// attempt dead-letters the event, as with the embedded broker.
//
// The broker being down fails no request: the relay leaves events in the outbox and publishes
// them when it is back (the connection reconnects forever, and the stream and consumers are set
// up as soon as it answers).
type NATS struct {
	url     string
	subs    []Subscription
	store   store
	retry   Retry
	log     *zap.Logger
	metrics *Metrics
	// retention is how long the stream keeps events.
	retention time.Duration
	// ackWait is how long a delivered message may go unacknowledged before JetStream delivers
	// it again (a consumer that died with it): longer than any handler takes.
	ackWait time.Duration

	nc   *nats.Conn
	js   jetstream.JetStream
	stop context.CancelFunc
	done chan struct{}

	mu    sync.Mutex
	ready bool // the stream and the consumers exist
}

// Start connects and, in the background, sets up the stream and the consumers.
func (n *NATS) Start(context.Context) error {
	nc, err := nats.Connect(n.url, nats.Name("userservice"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	n.nc, n.js = nc, js
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		n.setUp(ctx)
	}()
	return nil
}

// Stop stops consuming and closes the connection.
func (n *NATS) Stop(ctx context.Context) error {
	n.stop()
	select {
	case <-n.done:
	case <-ctx.Done():
	}
	return n.nc.Drain()
}

// setUp creates the stream and the consumers, retrying until the server answers, then consumes
// until ctx ends.
func (n *NATS) setUp(ctx context.Context) {
	var running []jetstream.ConsumeContext
	defer func() {
		for _, c := range running {
			c.Stop()
		}
	}()
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
		var err error
		if running, err = n.consume(ctx); err == nil {
			n.mu.Lock()
			n.ready = true
			n.mu.Unlock()
			<-ctx.Done()
			return
		}
		for _, c := range running {
			c.Stop()
		}
		n.log.Warn("events: NATS not ready; retrying", zap.Error(err))
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

func (n *NATS) consume(ctx context.Context) ([]jetstream.ConsumeContext, error) {
	setup, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := n.js.CreateOrUpdateStream(setup, jetstream.StreamConfig{
		Name: streamName, Subjects: []string{subjectPrefix + ">"}, Storage: jetstream.FileStorage,
		MaxAge: n.retention, Duplicates: 2 * time.Minute,
	}); err != nil {
		return nil, err
	}
	var running []jetstream.ConsumeContext
	for _, s := range n.subs {
		cfg := jetstream.ConsumerConfig{
			Durable: consumerName(s.Handler), AckPolicy: jetstream.AckExplicitPolicy, AckWait: n.ackWait,
			MaxAckPending: 1, DeliverPolicy: jetstream.DeliverAllPolicy,
		}
		// One type is filtered by the server; several are filtered here (several filter
		// subjects need a newer server than some distributions ship).
		if len(s.Types) == 1 {
			cfg.FilterSubject = natsSubject(s.Types[0])
		}
		cons, err := n.js.CreateOrUpdateConsumer(setup, streamName, cfg)
		if err != nil {
			return running, err
		}
		cc, err := cons.Consume(n.handler(ctx, s))
		if err != nil {
			return running, err
		}
		running = append(running, cc)
	}
	return running, nil
}

// handler runs a subscription on each message: ack on success; a dependency outage is retried
// without counting; other failures are retried with backoff, then dead-lettered.
func (n *NATS) handler(ctx context.Context, s Subscription) jetstream.MessageHandler {
	return func(msg jetstream.Msg) {
		var e Event
		if err := e.UnmarshalJSON(msg.Data()); err != nil {
			n.log.Error("events: undecodable message; dropped", zap.String("handler", s.Handler), zap.Error(err))
			_ = msg.Term()
			return
		}
		if !s.Matches(e.Type) {
			_ = msg.Ack()
			return
		}
		err := s.Handle(ctx, e)
		if err == nil {
			_ = msg.Ack()
			return
		}
		n.metrics.HandlerFailures.WithLabelValues(s.Handler).Inc()
		attempt := 1
		if meta, merr := msg.Metadata(); merr == nil {
			attempt = int(meta.NumDelivered)
		}
		if errors.Is(err, database.ErrUnavailable) || attempt < n.retry.Attempts {
			_ = msg.NakWithDelay(min(n.retry.First<<min(attempt-1, 16), n.retry.Max))
			return
		}
		n.log.Warn("event handler gave up; the event is dead-lettered", zap.String("handler", s.Handler),
			zap.String("event_id", e.ID.String()), zap.String("type", e.Type), zap.Int("attempts", attempt), zap.Error(err))
		if derr := n.store.addDeadLetter(ctx, s.Handler, e, err, attempt, time.Now()); derr != nil {
			_ = msg.NakWithDelay(n.retry.Max)
			return
		}
		n.metrics.DeadLetters.WithLabelValues(s.Handler).Inc()
		_ = msg.Ack()
	}
}

// Publish publishes evs in order, each acknowledged by JetStream before the next.
func (n *NATS) Publish(ctx context.Context, evs []Event) (int, error) {
	n.mu.Lock()
	ready := n.ready
	n.mu.Unlock()
	if !ready {
		return 0, errors.New("events: the NATS stream is not set up yet")
	}
	for i, e := range evs {
		data, err := e.MarshalJSON()
		if err != nil {
			return i, err
		}
		if _, err := n.js.Publish(ctx, natsSubject(e.Type), data, jetstream.WithMsgID(e.ID.String())); err != nil {
			return i, err
		}
		n.metrics.Published.Inc()
	}
	return len(evs), nil
}

// natsSubject is the subject of an event type, or of a type pattern ("x.*": every type with the
// prefix x.).
func natsSubject(typ string) string {
	switch {
	case typ == "*":
		return subjectPrefix + ">"
	case strings.HasSuffix(typ, ".*"):
		return subjectPrefix + strings.TrimSuffix(typ, "*") + ">"
	}
	return subjectPrefix + typ
}

// consumerName is a durable consumer's name for a handler (no dots allowed).
func consumerName(handler string) string {
	return strings.NewReplacer(".", "_", " ", "_", "*", "_", ">", "_").Replace(handler)
}
