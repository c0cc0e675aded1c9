// Package notifications is the notifications module: it mails users the links that prove an
// address (verification on registration and on a new address, password recovery) and takes
// their tokens back. It is a plugin like any other: it learns of accounts through the users
// module's events and acts on them through the platform's identity.Directory, which the users
// module implements; of that module it imports only the events package.
package notifications

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	notificationsql "github.com/acme/userservice/queries/notifications"

	"github.com/acme/userservice/modules/notifications/internal/adapters/compose"
	"github.com/acme/userservice/modules/notifications/internal/adapters/devmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/directory"
	"github.com/acme/userservice/modules/notifications/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/notifications/internal/adapters/postgres"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtpmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/notifications/internal/httpapi"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/modules/notifications/internal/subscriber"
	"github.com/acme/userservice/modules/notifications/internal/worker"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/logging"
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
		worker.NewNudge,
		NewService,
		worker.NewSender,
		httpapi.New,
	),
	fx.Provide(
		func(h *httpapi.Handler) oas.NotificationsHandler { return h },
		fx.Annotate(func() problem.Mapper { return httpapi.Problem }, fx.ResultTags(`group:"problem_mappers"`)),
		fx.Annotate(Migrations, fx.ResultTags(`group:"migrations"`)),
		fx.Annotate(func() events.OutboxCollection { return events.OutboxCollection{Name: mongodb.Jobs} },
			fx.ResultTags(`group:"mongo_outboxes"`)),
		events.AsSubscription(subscriber.New),
		logging.AsBackend(mailerBackend),
		// On the store, not the service: the service needs the users module's Directory, whose
		// service needs these hooks, and that would be a cycle.
		identity.AsUserDeleted(func(store ports.Store) identity.UserDeleted {
			return identity.UserDeleted{Module: "notifications", Run: store.Forget}
		}),
	),
	fx.Invoke(func(lc fx.Lifecycle, s *worker.Sender) { lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop}) }),
)

// ResetFloor is the least time a password reset request takes (see
// service.Deps.ResetFloor): above what looking an account up and storing a job take.
const ResetFloor = 150 * time.Millisecond

// NewStore returns the store of the adapter for the open database's engine; sig learns of
// its events.
func NewStore(db *database.DB, sig *events.Signal) (ports.Store, error) {
	return database.Adapters[ports.Store]{
		database.Postgres: func(db *database.DB) ports.Store { return postgres.New(db.Pool, sig.Appended) },
		database.SQLite:   func(db *database.DB) ports.Store { return sqlite.New(db.SQL, sig.Appended) },
		database.MongoDB:  func(db *database.DB) ports.Store { return mongodb.New(db.Mongo, sig.Appended) },
	}.For("notifications", db)
}

// NewMailer returns the SMTP mailer of SMTP_URL or, without one, the development mailer.
func NewMailer(cfg config.Config, log *zap.Logger) (ports.Mailer, error) {
	if cfg.SMTPURL == "" {
		return devmail.New(cfg.MailFrom, cfg.MailDir, log)
	}
	return smtpmail.New(cfg.SMTPURL, cfg.MailFrom)
}

// mailerBackend names the mailer in the start-up line of backends.
func mailerBackend(cfg config.Config) logging.Backend {
	use := "SMTP " + smtpmail.Server(cfg.SMTPURL)
	switch {
	case cfg.SMTPURL != "":
	case cfg.MailDir != "":
		use = "development mailer (SMTP_URL unset): not sent, kept in " + cfg.MailDir
	default:
		use = "development mailer (SMTP_URL unset): not sent, not kept (MAIL_DIR unset)"
	}
	return logging.Backend{Role: "mailer", Use: use}
}

// ServiceParams are what the notifications service needs.
type ServiceParams struct {
	fx.In
	Config    config.Config
	Store     ports.Store
	Mailer    ports.Mailer
	Throttle  throttle.Throttle
	Directory identity.Directory
	Nudge     worker.Nudge
}

// NewService returns the notifications service.
func NewService(p ServiceParams) (*service.Service, error) {
	c, err := compose.New(p.Config.PublicBaseURL)
	if err != nil {
		return nil, err
	}
	return service.New(service.Deps{
		Store:      p.Store,
		Accounts:   directory.New(p.Directory),
		Mailer:     p.Mailer,
		Composer:   c,
		Opaque:     token.Opaque{},
		Throttle:   p.Throttle,
		Clock:      service.SystemClock{},
		ResetFloor: ResetFloor,
		Wake:       p.Nudge.Wake,
	}), nil
}

// Migrations returns the module's schema migrations for every engine; on MongoDB, its
// collections' indexes.
func Migrations() database.Migrations {
	return notificationsql.Migrations().WithMongo(mongodb.Indexes)
}

