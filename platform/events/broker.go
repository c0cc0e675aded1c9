package events

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/logging"
)

// Subscription is a module's interest in events: a module subscribes by adding one to the
// "event_subscriptions" fx group (see AsSubscription).
type Subscription struct {
	// Handler names the subscription, unique in the service, such as "audit.trail": the name
	// under which its processed events and dead letters are recorded.
	Handler string
	// Types are the event types it handles; a type ending in "*" matches every type with that
	// prefix ("userservice.user.*").
	Types []string
	// Handle processes one event. Delivery is at least once: make it idempotent, for instance
	// with MarkProcessedPostgres/MarkProcessedSQLite in the handler's own transaction.
	Handle func(ctx context.Context, e Event) error
	// HandleBatch, when set, processes several events at once, in order (one transaction for
	// a relay's batch instead of one per event). It must be all or nothing: when it fails, the
	// embedded broker runs Handle on each event, with retries, to find the one that fails.
	HandleBatch func(ctx context.Context, evs []Event) error
	// Start is where the subscription begins the first time the service runs it: StartNow (the
	// default) or StartBeginning. From then on it goes on from where it was, whatever Start
	// says.
	Start Start
}

// Start is where a subscription that is new to the service begins reading. A subscription
// starts once, the first time the service runs it (a module added, a handler renamed); at
// every later start it goes on from where it was. It means the same on both brokers.
type Start int

const (
	// StartNow delivers the events published from the subscription's first start on, and
	// none from before: a module added to a running service does not act on what happened
	// before it was there (a mailer does not mail last week's registrations).
	StartNow Start = iota
	// StartBeginning delivers first every event still retained (EVENT_RETENTION), oldest
	// first, then the new ones: the changes feed's events on the embedded broker, the stream's
	// on NATS. For a module that keeps a record of everything, such as an audit trail.
	StartBeginning
)

// String names the start as the documentation does.
func (s Start) String() string {
	if s == StartBeginning {
		return "beginning"
	}
	return "now"
}

// Matches reports whether the subscription handles events of type typ.
func (s Subscription) Matches(typ string) bool {
	for _, t := range s.Types {
		if t == typ || (strings.HasSuffix(t, "*") && strings.HasPrefix(typ, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// AsSubscription annotates a constructor of a Subscription for the "event_subscriptions" group.
func AsSubscription(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"event_subscriptions"`))
}

// Broker publishes events to the subscribed modules, in the order given.
type Broker interface {
	// Publish publishes evs in order and returns how many it published before an error; the
	// relay leaves the rest pending and offers them again later.
	Publish(ctx context.Context, evs []Event) (int, error)
}

// Retry is how a failing handler is retried before its event is dead-lettered.
type Retry struct {
	// Attempts is how many times a handler is run on an event, at most.
	Attempts int
	// First is the wait after the first failure; it doubles after each one, up to Max.
	First, Max time.Duration
}

// DefaultRetry retries for about three seconds: five attempts, waiting 0.1, 0.2, 0.4 and 0.8 s.
func DefaultRetry() Retry {
	return Retry{Attempts: 5, First: 100 * time.Millisecond, Max: 2 * time.Second}
}

// Local is the embedded broker (nothing to run): publishing an event runs every subscribed
// handler in the process, in order, before the next event. A handler that fails is retried
// with backoff; after the last attempt the event is dead-lettered for that handler and
// publishing goes on. A dependency outage (database.ErrUnavailable) is not the event's fault:
// it stops publishing, and the relay offers the event again later.
//
// A subscription is new when the store has no record of it (event_subscriptions): one that
// starts at the beginning is first handed the retained events from the changes feed, then
// joins the live deliveries, and is recorded; one that starts now is recorded at once.
type Local struct {
	subs    []Subscription
	store   store
	retry   Retry
	log     *zap.Logger
	metrics *Metrics

	// mu is held while publishing, and by a catch-up as it reads its last pages and joins the
	// live deliveries, so that no event published meanwhile falls between the two.
	mu sync.Mutex
	// starting is true from Start until the store has said which subscriptions are new, when
	// some start at the beginning: Publish publishes nothing meanwhile (an event published
	// then would be missed by a subscription not yet known to be new or not).
	starting bool
	// joining are the handlers of the new subscriptions reading the retained events: Publish
	// leaves them out until they have caught up.
	joining map[string]bool
	// database logs an outage met while starting the subscriptions, once each way.
	database *logging.Dependency
	stop     context.CancelFunc
	done     chan struct{}
}

// errStarting is Publish's answer until the broker knows which subscriptions are new.
var errStarting = errors.New("events: the embedded broker is starting its subscriptions")

// catchUpPage is how many events of the changes feed a catch-up reads at once.
const catchUpPage = 500

// Start starts the subscriptions in the background, without waiting for the database. The
// relay starts after the broker, so that nothing is published before Publish holds back.
func (l *Local) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan struct{})
	l.database = logging.NewDependency(l.log, "event subscriptions", "database")
	l.mu.Lock()
	l.starting = slices.ContainsFunc(l.subs, func(s Subscription) bool { return s.Start == StartBeginning })
	l.mu.Unlock()
	go func() {
		defer close(l.done)
		l.startSubscriptions(ctx)
	}()
	return nil
}

// Stop stops a catch-up in progress; it goes on at the next start.
func (l *Local) Stop(ctx context.Context) error {
	if l.stop == nil {
		return nil
	}
	l.stop()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startSubscriptions learns which subscriptions are new, then catches up and records them,
// retrying what fails until it succeeds or ctx ends.
func (l *Local) startSubscriptions(ctx context.Context) {
	var known map[string]bool
	if !l.retrying(ctx, func() (err error) { known, err = l.store.subscriptions(ctx); return err }) {
		return
	}
	l.mu.Lock()
	l.joining = map[string]bool{}
	for _, s := range l.subs {
		if s.Start == StartBeginning && !known[s.Handler] {
			l.joining[s.Handler] = true
		}
	}
	l.starting = false
	l.mu.Unlock()
	for _, s := range l.subs {
		if known[s.Handler] {
			continue
		}
		if s.Start == StartBeginning {
			var from Position
			if !l.retrying(ctx, func() error { return l.catchUp(ctx, s, &from) }) {
				return
			}
			l.log.Info("events: a new subscription has read the retained events", zap.String("handler", s.Handler))
		}
		// Recorded after its catch-up: a start that stops in the middle reads them again.
		if !l.retrying(ctx, func() error { return l.store.addSubscription(ctx, s.Handler, time.Now()) }) {
			return
		}
	}
}

// retrying runs fn until it succeeds (true) or ctx ends (false), waiting longer after each
// failure.
func (l *Local) retrying(ctx context.Context, fn func() error) bool {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := fn()
		switch {
		case err == nil:
			l.database.Reachable()
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, database.ErrUnavailable):
			l.database.Unreachable(err)
		default:
			l.log.Warn("events: starting the subscriptions failed; retrying", zap.Error(err))
		}
		if sleep(ctx, wait) != nil {
			return false
		}
	}
}

// catchUp hands s the events of the changes feed after from, page by page, while the relay
// goes on publishing without s; it reads the last pages holding mu, so that the relay waits,
// and then s joins the deliveries. Every event is thus handled by s here or after it joined
// (some in both places: the feed holds events the relay has yet to publish, and delivery is
// at least once). from moves with each page, so that a retry goes on from there.
func (l *Local) catchUp(ctx context.Context, s Subscription, from *Position) error {
	locked := false
	defer func() {
		if locked {
			l.mu.Unlock()
		}
	}()
	for {
		page, err := l.store.feed(ctx, *from, "", catchUpPage)
		if err != nil {
			return err
		}
		evs := make([]Event, 0, len(page))
		for _, entry := range page {
			if s.Matches(entry.Event.Type) {
				evs = append(evs, entry.Event)
			}
		}
		if err := l.deliverTo(ctx, s, evs); err != nil {
			return err
		}
		if len(page) > 0 {
			*from = page[len(page)-1].Position
		}
		switch {
		case len(page) == catchUpPage:
		case !locked:
			l.mu.Lock()
			locked = true
		default:
			delete(l.joining, s.Handler)
			return nil
		}
	}
}

// deliverTo runs s on evs, in order: as one batch when it takes batches, otherwise (or when
// the batch fails) event by event, with retries and dead letters.
func (l *Local) deliverTo(ctx context.Context, s Subscription, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.HandleBatch != nil {
		err := s.HandleBatch(ctx, evs)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil || errors.Is(err, database.ErrUnavailable):
			return err
		}
		l.metrics.HandlerFailures.WithLabelValues(s.Handler).Inc()
	}
	for _, e := range evs {
		if err := l.handle(ctx, s, e); err != nil {
			return err
		}
	}
	return nil
}

// Publish runs each subscribed handler on the events it matches, in order. Handlers of batches
// run first, once for the whole batch; then, event by event, the others (and those whose batch
// failed, to find the event that fails). A dependency outage stops publishing at the event it
// hit: the rest is offered again later, which the handlers' idempotency makes harmless for the
// batches that already ran. Subscriptions still catching up are left out.
func (l *Local) Publish(ctx context.Context, evs []Event) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.starting {
		return 0, errStarting
	}
	single := make([]Subscription, 0, len(l.subs))
	for _, s := range l.subs {
		if l.joining[s.Handler] {
			continue
		}
		if s.HandleBatch == nil {
			single = append(single, s)
			continue
		}
		var matching []Event
		for _, e := range evs {
			if s.Matches(e.Type) {
				matching = append(matching, e)
			}
		}
		if len(matching) == 0 {
			continue
		}
		err := s.HandleBatch(ctx, matching)
		switch {
		case err == nil:
		case ctx.Err() != nil || errors.Is(err, database.ErrUnavailable):
			return 0, err
		default:
			l.metrics.HandlerFailures.WithLabelValues(s.Handler).Inc()
			single = append(single, s)
		}
	}
	for i, e := range evs {
		for _, s := range single {
			if !s.Matches(e.Type) {
				continue
			}
			if err := l.handle(ctx, s, e); err != nil {
				return i, err
			}
		}
		l.metrics.Published.Inc()
	}
	return len(evs), nil
}

func (l *Local) handle(ctx context.Context, s Subscription, e Event) error {
	wait := l.retry.First
	for attempt := 1; ; attempt++ {
		err := s.Handle(ctx, e)
		if err == nil {
			return nil
		}
		l.metrics.HandlerFailures.WithLabelValues(s.Handler).Inc()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, database.ErrUnavailable):
			return err
		case attempt >= l.retry.Attempts:
			l.log.Warn("event handler gave up; the event is dead-lettered", zap.String("handler", s.Handler),
				zap.String("event_id", e.ID.String()), zap.String("type", e.Type), zap.Int("attempts", attempt), zap.Error(err))
			if err := l.store.addDeadLetter(ctx, s.Handler, e, err, attempt, time.Now()); err != nil {
				return err
			}
			l.metrics.DeadLetters.WithLabelValues(s.Handler).Inc()
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, l.retry.Max)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
