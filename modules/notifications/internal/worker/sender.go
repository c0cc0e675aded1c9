// Package worker is the notifications module's background work: the sender that mails the
// jobs as they come due, for the application's life, and the metrics of its outcomes and
// backlog. It drives the service as the HTTP handlers do, from a loop instead of a request.
package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/logging"
)

// Nudge wakes the sender when a job is stored, so a mail leaves at once rather than at the
// next poll.
type Nudge chan struct{}

// NewNudge returns a nudge that holds one wake-up until the sender takes it.
func NewNudge() Nudge { return make(Nudge, 1) }

// Wake tells the sender a job was stored; it never blocks.
func (n Nudge) Wake() {
	select {
	case n <- struct{}{}:
	default: // already nudged
	}
}

// Sender mails the jobs as they come due, in the background, for the application's life.
type Sender struct {
	svc   *service.Service
	store ports.Store
	nudge Nudge
	log   *zap.Logger
	// database logs an outage once when it begins and once when it ends, for both workers,
	// which would otherwise each warn at every poll for as long as it lasts.
	database *logging.Dependency
	mails    *prometheus.CounterVec
	cancel   context.CancelFunc
	stopped  chan struct{}
}

// pollEvery is how often an idle sender looks for due jobs (retries, other instances' jobs).
const pollEvery = time.Second

// workers is how many batches an instance sends at once: one sends while another waits for
// the database.
const workers = 2

// NewSender returns the sender of svc's jobs, counting outcomes in reg.
func NewSender(svc *service.Service, store ports.Store, n Nudge, log *zap.Logger, reg prometheus.Registerer) (*Sender, error) {
	s := &Sender{svc: svc, store: store, nudge: n, log: log.Named("mail"), database: logging.NewDependency(log, "mail sender", "database"),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifications_mails_total",
			Help: "Mail jobs handled, by outcome: sent, dropped (no longer wanted), retried (sending failed), rejected (the recipient refused for good) or abandoned.",
		}, []string{"outcome"})}
	for _, c := range []prometheus.Collector{s.mails, backlogCollector{store}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var backlogDesc = prometheus.NewDesc("notifications_mail_backlog",
	"Mails waiting to be sent (a growing backlog means the mail server refuses them).", nil, nil)

// backlogCollector reads the mail backlog at each scrape. A failed read reports nothing rather
// than a wrong number: the gauge goes missing from the scrape, which alerting sees.
type backlogCollector struct{ store ports.Store }

// Describe implements prometheus.Collector.
func (c backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc }

// Collect implements prometheus.Collector.
func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := c.store.Backlog(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	}
}

// Start starts sending.
func (s *Sender) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.stopped = cancel, make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { s.run(ctx, i == 0) })
	}
	go func() {
		wg.Wait()
		close(s.stopped)
	}()
	return nil
}

// Stop stops sending, after the mail in progress.
func (s *Sender) Stop(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var outcomeNames = map[service.Outcome]string{
	service.Sent: "sent", service.Dropped: "dropped", service.Retried: "retried", service.Abandoned: "abandoned",
	service.Rejected: "rejected",
}

// run sends jobs until ctx ends; the pruner also deletes expired tokens now and then.
func (s *Sender) run(ctx context.Context, pruner bool) {
	var pruned time.Time
	for {
		outcomes, err := s.svc.SendDue(ctx)
		for out, n := range outcomes {
			s.mails.WithLabelValues(outcomeNames[out]).Add(float64(n))
		}
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, database.ErrUnavailable):
			s.database.Unreachable(err)
		case err != nil:
			// The jobs' own failures (a mail server refusing, a job abandoned): each says which
			// mail and what becomes of it, and comes back only with its job's backoff.
			s.database.Reachable()
			s.log.Warn("mail not sent", zap.Error(err))
		default:
			s.database.Reachable()
		}
		if len(outcomes) > 0 {
			// There may be more: a sibling takes the next batch while this one goes on.
			s.nudge.Wake()
			continue
		}
		if pruner && time.Since(pruned) > time.Hour {
			if err := s.store.Prune(ctx, time.Now()); err == nil {
				pruned = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.nudge:
		case <-time.After(pollEvery):
		}
	}
}
