package sqlite_test

import (
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/adapters/sqlite"
	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/modules/users/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) ports.UnitOfWork {
		db := dbtest.SQLite(t, users.Migrations())
		return sqlite.NewUnitOfWork(db.SQL)
	})
}
