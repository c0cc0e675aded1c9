// Package notifications is the notifications module: it mails users the links that prove an
// address (verification on registration and on a new address, password recovery) and takes
// their tokens back. It is a plugin like any other: it learns of accounts through the user
// events and acts on them through the platform's identity.Directory, which the accounts module
// implements; it never imports that module.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	userevents "github.com/acme/userservice/modules/users/events"
	notificationsql "github.com/acme/userservice/queries/notifications"

	"github.com/acme/userservice/modules/notifications/internal/adapters/compose"
	"github.com/acme/userservice/modules/notifications/internal/adapters/devmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/notifications/internal/adapters/postgres"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtpmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/notifications/internal/httpapi"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/token"
)

// Module provides the Notifications operation group of the API (its part of the contract is
// api.yaml), its error mapping, its migrations, its subscription to the user events that ask
// for a verification mail, its part in a user's deletion, and the sender that mails.
var Module = fx.Module("notifications",
	fx.Provide(
		fx.Private,
		NewStore,
		NewMailer,
		newNudge,
		NewService,
		NewSender,
		httpapi.New,
	),
	fx.Provide(
		func(h *httpapi.Handler) oas.NotificationsHandler { return h },
		fx.Annotate(func() problem.Mapper { return httpapi.Problem }, fx.ResultTags(`group:"problem_mappers"`)),
		fx.Annotate(Migrations, fx.ResultTags(`group:"migrations"`)),
		fx.Annotate(func() events.OutboxCollection { return events.OutboxCollection{Name: mongodb.Jobs} },
			fx.ResultTags(`group:"mongo_outboxes"`)),
		events.AsSubscription(NewSubscription),
		// On the store, not the service: the service needs the accounts module's Directory, whose
		// service needs these hooks, and that would be a cycle.
		identity.AsUserDeleted(func(store ports.Store) identity.UserDeleted {
			return identity.UserDeleted{Module: "notifications", Run: store.Forget}
		}),
	),
	fx.Invoke(func(lc fx.Lifecycle, s *Sender) { lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop}) }),
)

// ResetFloor is the least time a password reset request takes (see
// service.Deps.ResetFloor): above what looking an account up and storing a job take.
const ResetFloor = 150 * time.Millisecond

// NewStore returns the store of the adapter for the open database's engine; sig learns of
// its events.
func NewStore(db *database.DB, sig *events.Signal) ports.Store {
	switch db.Engine {
	case database.Postgres:
		return postgres.New(db.Pool, sig.Appended)
	case database.MongoDB:
		return mongodb.New(db.Mongo, sig.Appended)
	default: // SQLite
		return sqlite.New(db.SQL, sig.Appended)
	}
}

// NewMailer returns the SMTP mailer of SMTP_URL or, without one, the development mailer.
func NewMailer(cfg config.Config, log *zap.Logger) (ports.Mailer, error) {
	if cfg.SMTPURL == "" {
		return devmail.New(cfg.MailFrom, cfg.MailDir, log)
	}
	m, err := smtpmail.New(cfg.SMTPURL, cfg.MailFrom)
	if err != nil {
		return nil, err
	}
	log.Info("mail goes through SMTP", zap.String("server", smtpmail.Redacted(cfg.SMTPURL)))
	return m, nil
}

// ServiceParams are what the notifications service needs.
type ServiceParams struct {
	fx.In
	Config    config.Config
	Store     ports.Store
	Mailer    ports.Mailer
	Throttle  throttle.Throttle
	Directory identity.Directory
	Nudge     nudge
}

// NewService returns the notifications service.
func NewService(p ServiceParams) (*service.Service, error) {
	c, err := compose.New(p.Config.PublicBaseURL)
	if err != nil {
		return nil, err
	}
	return service.New(service.Deps{
		Store:      p.Store,
		Accounts:   accounts{p.Directory},
		Mailer:     p.Mailer,
		Composer:   c,
		Opaque:     token.Opaque{},
		Throttle:   p.Throttle,
		Clock:      clock{},
		ResetFloor: ResetFloor,
		Wake:       p.Nudge.wake,
	}), nil
}

// Handler is the name under which the subscription's processed events are recorded.
const Handler = "notifications.verification"

// NewSubscription asks for a verification mail when a user registers and when an address
// changes. It reads the users module's events by their documented payloads.
func NewSubscription(svc *service.Service) events.Subscription {
	return events.Subscription{
		Handler: Handler,
		Types:   []string{userevents.TypeRegistered, userevents.TypeUpdated},
		Handle: func(ctx context.Context, e events.Event) error {
			return handleBatch(ctx, svc, []events.Event{e})
		},
		// A relay's batch in one transaction: the jobs keep up with registrations.
		HandleBatch: func(ctx context.Context, evs []events.Event) error { return handleBatch(ctx, svc, evs) },
	}
}

func handleBatch(ctx context.Context, svc *service.Service, evs []events.Event) error {
	asks := make([]service.Ask, 0, len(evs))
	for _, e := range evs {
		var p struct {
			UserID  uuid.UUID `json:"user_id"`
			Email   string    `json:"email"`
			Changed []string  `json:"changed"`
		}
		if err := e.Decode(&p); err != nil {
			return fmt.Errorf("notifications: event %s: %w", e.ID, err)
		}
		if e.Type == userevents.TypeUpdated && !slices.Contains(p.Changed, "email") {
			continue
		}
		asks = append(asks, service.Ask{EventID: e.ID, UserID: p.UserID, Email: p.Email, RequestID: e.RequestID})
	}
	return svc.AskVerification(ctx, Handler, asks...)
}

// Migrations returns the module's schema migrations for every engine; on MongoDB, its
// collections' indexes.
func Migrations() database.Migrations {
	return notificationsql.Migrations().WithMongo(mongodb.Indexes)
}

// accounts is identity.Directory in the words of the module's ports.
type accounts struct{ dir identity.Directory }

func (a accounts) Account(ctx context.Context, id uuid.UUID) (ports.Account, error) {
	return account(a.dir.Account(ctx, id))
}

func (a accounts) Accounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]ports.Account, error) {
	got, err := a.dir.Accounts(ctx, ids)
	if err != nil {
		return nil, portError(err)
	}
	out := make(map[uuid.UUID]ports.Account, len(got))
	for id, x := range got {
		out[id], _ = account(x, nil)
	}
	return out, nil
}

func (a accounts) AccountByEmail(ctx context.Context, email string) (ports.Account, error) {
	return account(a.dir.AccountByEmail(ctx, email))
}

func (a accounts) VerifyEmail(ctx context.Context, id uuid.UUID, email string) error {
	return portError(a.dir.VerifyEmail(ctx, id, email))
}

func (a accounts) ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error {
	return portError(a.dir.ResetPassword(ctx, id, email, password))
}

func account(a identity.Account, err error) (ports.Account, error) {
	if err != nil {
		return ports.Account{}, portError(err)
	}
	return ports.Account{ID: a.ID, Username: a.Username, Email: a.Email, CanReceiveEmail: a.CanReceiveEmail, EmailVerified: a.EmailVerified}, nil
}

func portError(err error) error {
	var pe *identity.PasswordError
	switch {
	case errors.Is(err, identity.ErrNoAccount):
		return fmt.Errorf("%w: %w", ports.ErrNoAccount, err)
	case errors.Is(err, identity.ErrEmailChanged):
		return fmt.Errorf("%w: %w", ports.ErrEmailChanged, err)
	case errors.Is(err, identity.ErrDeactivated):
		return fmt.Errorf("%w: %w", ports.ErrDeactivated, err)
	case errors.As(err, &pe):
		return &ports.PasswordError{Message: pe.Message}
	}
	return err
}

type clock struct{}

func (clock) Now() time.Time { return time.Now() }

// nudge wakes the sender when a job is stored, so a mail leaves at once rather than at the
// next poll.
type nudge chan struct{}

func newNudge() nudge { return make(nudge, 1) }

func (n nudge) wake() {
	select {
	case n <- struct{}{}:
	default: // already nudged
	}
}

// Sender mails the jobs as they come due, in the background, for the application's life.
type Sender struct {
	svc     *service.Service
	store   ports.Store
	nudge   nudge
	log     *zap.Logger
	mails   *prometheus.CounterVec
	cancel  context.CancelFunc
	stopped chan struct{}
}

// pollEvery is how often an idle sender looks for due jobs (retries, other instances' jobs).
const pollEvery = time.Second

// workers is how many batches an instance sends at once: one sends while another waits for
// the database.
const workers = 2

// NewSender returns the sender of svc's jobs, counting outcomes in reg.
func NewSender(svc *service.Service, store ports.Store, n nudge, log *zap.Logger, reg prometheus.Registerer) (*Sender, error) {
	s := &Sender{svc: svc, store: store, nudge: n, log: log.Named("mail"),
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
		if err != nil && ctx.Err() == nil {
			s.log.Warn("mail", zap.Error(err))
		}
		if len(outcomes) > 0 {
			// There may be more: a sibling takes the next batch while this one goes on.
			s.nudge.wake()
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
