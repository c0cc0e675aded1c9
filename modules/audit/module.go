// Package audit is the audit module: it listens to every user event and keeps the trail of who
// did what to whom, and when (GET /audit-events, for admins). It is a plugin like any other: its
// folder, its part of the contract and its queries, and one line in features(); it knows the
// users module only through the events' documented payloads.
package audit

import (
	"go.uber.org/fx"

	auditsql "github.com/acme/userservice/queries/audit"

	"github.com/acme/userservice/modules/audit/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/audit/internal/adapters/postgres"
	"github.com/acme/userservice/modules/audit/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/audit/internal/httpapi"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/modules/audit/internal/service"
	"github.com/acme/userservice/modules/audit/internal/subscriber"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Module provides the Audit operation group of the API (its part of the contract is
// api.yaml), its error mapping, its migrations, and its subscription to the user events.
var Module = fx.Module("audit",
	fx.Provide(
		fx.Private,
		NewService,
		httpapi.New,
	),
	fx.Provide(
		func(h *httpapi.Handler) oas.AuditHandler { return h },
		fx.Annotate(func() problem.Mapper { return httpapi.Problem }, fx.ResultTags(`group:"problem_mappers"`)),
		fx.Annotate(Migrations, fx.ResultTags(`group:"migrations"`)),
		events.AsSubscription(subscriber.New),
	),
)

// NewService returns the audit service on the platform's database.
func NewService(db *database.DB) (*service.Service, error) {
	repo, err := NewRepository(db)
	if err != nil {
		return nil, err
	}
	return service.New(repo), nil
}

// NewRepository returns the repository of the adapter for the open database's engine.
func NewRepository(db *database.DB) (ports.EntryRepository, error) {
	return database.Adapters[ports.EntryRepository]{
		database.Postgres: func(db *database.DB) ports.EntryRepository { return postgres.NewRepository(db.Pool) },
		database.SQLite:   func(db *database.DB) ports.EntryRepository { return sqlite.NewRepository(db.SQL) },
		database.MongoDB:  func(db *database.DB) ports.EntryRepository { return mongodb.NewRepository(db.Mongo) },
	}.For("audit", db)
}

// Migrations returns the module's schema migrations for every engine; on MongoDB, its
// collection's indexes.
func Migrations() database.Migrations { return auditsql.Migrations().WithMongo(mongodb.Indexes) }
