// Package audit is the audit module: it listens to every user event and keeps the trail of who
// did what to whom, and when (GET /audit-events, for admins). It is a plugin like any other: its
// folder, its part of the contract and its queries, and one line in features(); it knows the
// users module only through the events' documented payloads.
package audit

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/fx"

	auditsql "github.com/acme/userservice/queries/audit"

	"github.com/acme/userservice/modules/audit/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/audit/internal/adapters/postgres"
	"github.com/acme/userservice/modules/audit/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/httpapi"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/modules/audit/internal/service"
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
		events.AsSubscription(NewSubscription),
	),
)

// NewService returns the audit service on the platform's database.
func NewService(db *database.DB) *service.Service { return service.New(NewRepository(db)) }

// NewRepository returns the repository of the adapter for the open database's engine.
func NewRepository(db *database.DB) ports.EntryRepository {
	switch db.Engine {
	case database.Postgres:
		return postgres.NewRepository(db.Pool)
	case database.MongoDB:
		return mongodb.NewRepository(db.Mongo)
	default: // SQLite
		return sqlite.NewRepository(db.SQL)
	}
}

// NewSubscription subscribes the trail to the user events it records.
func NewSubscription(svc *service.Service) events.Subscription {
	return events.Subscription{
		Handler: service.Handler,
		Types:   domain.Types(),
		Handle: func(ctx context.Context, e events.Event) error {
			entry, err := entryOf(e)
			if err != nil {
				return err
			}
			return svc.Record(ctx, entry)
		},
		// A relay's batch in one transaction: the trail keeps up with registrations.
		HandleBatch: func(ctx context.Context, evs []events.Event) error {
			entries := make([]domain.Entry, len(evs))
			for i, e := range evs {
				var err error
				if entries[i], err = entryOf(e); err != nil {
					return err
				}
			}
			return svc.RecordAll(ctx, entries)
		},
	}
}

// entryOf reads the trail's entry from a user event: its envelope, and from its payload
// (documented in the README's event catalogue) only the names of the fields an update changed.
func entryOf(e events.Event) (domain.Entry, error) {
	target, err := uuid.Parse(e.Subject)
	if err != nil {
		return domain.Entry{}, fmt.Errorf("audit: event %s: subject %q is not a user id", e.ID, e.Subject)
	}
	var payload struct {
		Changed []string `json:"changed"`
	}
	if err := e.Decode(&payload); err != nil {
		return domain.Entry{}, fmt.Errorf("audit: event %s: %w", e.ID, err)
	}
	return domain.NewEntry(e.ID, e.Type, e.Actor, target, e.RequestID, payload.Changed, e.Time)
}

// Migrations returns the module's schema migrations for every engine; on MongoDB, its
// collection's indexes.
func Migrations() database.Migrations { return auditsql.Migrations().WithMongo(mongodb.Indexes) }
