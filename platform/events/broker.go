package events

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
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
type Local struct {
	subs    []Subscription
	store   store
	retry   Retry
	log     *zap.Logger
	metrics *Metrics
}

// Publish runs each subscribed handler on the events it matches, in order. Handlers of batches
// run first, once for the whole batch; then, event by event, the others (and those whose batch
// failed, to find the event that fails). A dependency outage stops publishing at the event it
// hit: the rest is offered again later, which the handlers' idempotency makes harmless for the
// batches that already ran.
func (l *Local) Publish(ctx context.Context, evs []Event) (int, error) {
	single := make([]Subscription, 0, len(l.subs))
	for _, s := range l.subs {
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
