package sqlite_test

import (
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/adapters/sqlite"
	"github.com/acme/userservice/modules/users/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db := dbtest.SQLite(t, users.Migrations())
		return porttest.Store{Users: sqlite.NewRepository(db.SQL), UoW: sqlite.NewUnitOfWork(db.SQL)}
	})
}
