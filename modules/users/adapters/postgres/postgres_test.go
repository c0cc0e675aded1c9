package postgres_test

import (
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/adapters/postgres"
	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/modules/users/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) ports.UnitOfWork {
		db := dbtest.Postgres(t, users.Migrations())
		return postgres.NewUnitOfWork(db.Pool)
	})
}
