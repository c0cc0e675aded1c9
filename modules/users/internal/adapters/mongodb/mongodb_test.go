package mongodb_test

import (
	"context"
	"testing"

	"github.com/acme/userservice/modules/users/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/users/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/mongotest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db, _ := mongotest.Database(t)
		if err := mongodb.Indexes(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s := mongodb.New(db, nil)
		return porttest.Store{
			Users:     s.Repository(),
			Sessions:  s.Sessions(),
			UoW:       s.UnitOfWork(),
			Atomicity: porttest.OneUser,
			Outbox: func(t *testing.T) []string {
				evs, err := mongodb.Pending(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				types := make([]string, len(evs))
				for i, e := range evs {
					types[i] = e.Type
				}
				return types
			},
		}
	})
}
