package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/logging"
)

// natsNames are the JetStream names of one deployment's events, all derived from its prefix
// (NATS_STREAM): deployments sharing a NATS server with prefixes of their own share no stream,
// subject or consumer, so none takes another's events.
type natsNames struct {
	// Prefix is the deployment's prefix, such as "userservice" (NATS_STREAM).
	Prefix string
}

// stream is the stream's name: the prefix in capitals, then _EVENTS (USERSERVICE_EVENTS).
func (n natsNames) stream() string { return strings.ToUpper(n.Prefix) + "_EVENTS" }

// subjects is the subject filter of the stream: <prefix>.events.>.
func (n natsNames) subjects() string { return n.subjectPrefix() + ">" }

func (n natsNames) subjectPrefix() string { return n.Prefix + ".events." }

// subject is the subject of an event type, or of a type pattern ("x.*": every type with the
// prefix x.; "*": every type).
func (n natsNames) subject(typ string) string {
	switch {
	case typ == "*":
		return n.subjects()
	case strings.HasSuffix(typ, ".*"):
		return n.subjectPrefix() + strings.TrimSuffix(typ, "*") + ">"
	}
	return n.subjectPrefix() + typ
}

// owns reports whether a subject filter of a stream is within this deployment's subjects.
func (n natsNames) owns(subject string) bool { return strings.HasPrefix(subject, n.subjectPrefix()) }

// errNATSUnavailable marks a publication NATS did not take (not set up yet, unreachable, too
// slow): an outage of the broker, which the relay waits out, not a fault of the events.
var errNATSUnavailable = errors.New("events: NATS unavailable")

// ForeignStreamError is the refusal to use a stream that holds another deployment's subjects:
// taking it over would move that deployment's events to this one's consumers.
type ForeignStreamError struct {
	// Stream is the stream's name; Want, the subjects this deployment would give it; Has, the
	// subjects it holds.
	Stream, Want string
	Has          []string
}

func (e *ForeignStreamError) Error() string {
	return fmt.Sprintf("events: the NATS stream %s holds the subjects %s, not %s: it belongs to another deployment; "+
		"give each deployment sharing the NATS server its own NATS_STREAM", e.Stream, strings.Join(e.Has, ", "), e.Want)
}

// NATS is the broker when NATS_URL is set: events go to a JetStream stream (created when
// missing), each with Nats-Msg-Id = the event's id so that JetStream drops a relay's duplicate
// publication; every subscription is a durable consumer shared by all instances, so an event
// is handled once per subscribing module, not once per instance. A new consumer starts where
// its subscription's Start says: at the stream's first event, or at the next one published. A
// consumer has one message in flight at a time, which keeps each subject's order through
// retries; a handler failing every attempt dead-letters the event, as with the embedded
// broker.
//
// The broker being down fails no request: the relay leaves events in the outbox and publishes
// them when it is back (the connection reconnects forever, and the stream and consumers are set
// up as soon as it answers). A stream of the same name holding another deployment's subjects
// is never taken over: Start fails on it (ForeignStreamError) when the server answers then,
// and later it stops the set-up with an error in the log.
type NATS struct {
	url     string
	names   natsNames
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

	// reach logs the server's outages (a lost connection, a set-up that fails) once each way.
	reach *logging.Dependency

	mu    sync.Mutex
	ready bool // the stream and the consumers exist
}

// Start connects and sets up the stream and the consumers: at once when the server answers,
// so that a stream of another deployment stops start-up, otherwise in the background.
func (n *NATS) Start(context.Context) error {
	n.reach = logging.NewDependency(n.log, "events broker", "NATS")
	nc, err := nats.Connect(n.url, nats.Name(n.names.Prefix), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if !c.IsClosed() && !c.IsDraining() { // not our own stop
				n.reach.Unreachable(fmt.Errorf("disconnected: %w", err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { n.reach.Reachable() }))
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	n.nc, n.js = nc, js
	bg, cancel := context.WithCancel(context.Background())
	var running []jetstream.ConsumeContext
	err = errors.New("events: NATS is not connected yet")
	if nc.IsConnected() {
		running, err = n.consume(bg)
		if foreign := (*ForeignStreamError)(nil); errors.As(err, &foreign) {
			stopAll(running)
			cancel()
			nc.Close()
			return err
		}
	}
	n.stop, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		n.setUp(bg, running, err)
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
// until ctx ends. running and err are the outcome of the attempt Start made.
func (n *NATS) setUp(ctx context.Context, running []jetstream.ConsumeContext, err error) {
	defer func() { stopAll(running) }()
	refused := false
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
		if err == nil {
			n.reach.Reachable()
			n.mu.Lock()
			n.ready = true
			n.mu.Unlock()
			<-ctx.Done()
			return
		}
		stopAll(running)
		if foreign := (*ForeignStreamError)(nil); !errors.As(err, &foreign) {
			n.reach.Unreachable(fmt.Errorf("setting up the stream and consumers: %w", err))
		} else if !refused {
			refused = true // once: it lasts until an operator acts
			n.log.Error("events: refusing the NATS stream of another deployment; events wait in the outbox", zap.Error(err))
		}
		if sleep(ctx, wait) != nil {
			return
		}
		running, err = n.consume(ctx)
	}
}

func stopAll(running []jetstream.ConsumeContext) {
	for _, c := range running {
		c.Stop()
	}
}

func (n *NATS) consume(ctx context.Context) ([]jetstream.ConsumeContext, error) {
	setup, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream := n.names.stream()
	// CreateOrUpdateStream would give an existing stream this deployment's subjects: look first.
	switch existing, err := n.js.Stream(setup, stream); {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, err
	default:
		has := existing.CachedInfo().Config.Subjects
		if slices.ContainsFunc(has, func(s string) bool { return !n.names.owns(s) }) {
			return nil, &ForeignStreamError{Stream: stream, Want: n.names.subjects(), Has: has}
		}
	}
	if _, err := n.js.CreateOrUpdateStream(setup, jetstream.StreamConfig{
		Name: stream, Subjects: []string{n.names.subjects()}, Storage: jetstream.FileStorage,
		MaxAge: n.retention, Duplicates: 2 * time.Minute,
	}); err != nil {
		return nil, err
	}
	var running []jetstream.ConsumeContext
	for _, s := range n.subs {
		cfg := jetstream.ConsumerConfig{
			Durable: consumerName(s.Handler), AckPolicy: jetstream.AckExplicitPolicy, AckWait: n.ackWait,
			MaxAckPending: 1, DeliverPolicy: jetstream.DeliverNewPolicy,
		}
		if s.Start == StartBeginning {
			cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		}
		// A consumer's start is fixed when it is created (the server refuses to change it), as a
		// subscription's is: an existing consumer keeps its own and goes on from where it was.
		switch existing, err := n.js.Consumer(setup, stream, cfg.Durable); {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
		case err != nil:
			return running, err
		default:
			was := existing.CachedInfo().Config
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = was.DeliverPolicy, was.OptStartSeq, was.OptStartTime
		}
		// One type is filtered by the server; several are filtered here (several filter
		// subjects need a newer server than some distributions ship).
		if len(s.Types) == 1 {
			cfg.FilterSubject = n.names.subject(s.Types[0])
		}
		cons, err := n.js.CreateOrUpdateConsumer(setup, stream, cfg)
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
		return 0, fmt.Errorf("%w: the stream is not set up yet", errNATSUnavailable)
	}
	for i, e := range evs {
		data, err := e.MarshalJSON()
		if err != nil {
			return i, err
		}
		if _, err := n.js.Publish(ctx, n.names.subject(e.Type), data, jetstream.WithMsgID(e.ID.String())); err != nil {
			return i, fmt.Errorf("%w: %w", errNATSUnavailable, err)
		}
		n.metrics.Published.Inc()
	}
	return len(evs), nil
}

// consumerName is a durable consumer's name for a handler (no dots allowed). Consumers belong
// to their stream, so deployments with streams of their own have consumers of their own.
func consumerName(handler string) string {
	return strings.NewReplacer(".", "_", " ", "_", "*", "_", ">", "_").Replace(handler)
}
