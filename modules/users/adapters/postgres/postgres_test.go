package postgres_test

import (
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/adapters/postgres"
	"github.com/acme/userservice/modules/users/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db := dbtest.Postgres(t, users.Migrations())
		return porttest.Store{Users: postgres.NewRepository(db.Pool), UoW: postgres.NewUnitOfWork(db.Pool)}
	})
}
