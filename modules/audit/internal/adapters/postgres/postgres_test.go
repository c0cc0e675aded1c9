package postgres_test

import (
	"testing"

	"github.com/acme/userservice/modules/audit"
	"github.com/acme/userservice/modules/audit/internal/adapters/postgres"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/modules/audit/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) ports.EntryRepository {
		return postgres.NewRepository(dbtest.Postgres(t, audit.Migrations(), eventsql.Migrations()).Pool)
	})
}
