package mongodb_test

import (
	"testing"

	"github.com/acme/userservice/modules/audit"
	"github.com/acme/userservice/modules/audit/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/modules/audit/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/mongotest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) ports.EntryRepository {
		return mongodb.NewRepository(mongotest.Open(t, audit.Migrations()).Mongo)
	})
}
