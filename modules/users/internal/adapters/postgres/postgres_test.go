package postgres_test

import (
	"context"
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/internal/adapters/postgres"
	"github.com/acme/userservice/modules/users/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db := dbtest.Postgres(t, users.Migrations(), eventsql.Migrations())
		return porttest.Store{
			Users:    postgres.NewRepository(db.Pool, nil),
			Sessions: postgres.NewSessions(db.Pool),
			UoW:      postgres.NewUnitOfWork(db.Pool, nil),
			Outbox: func(t *testing.T) []string {
				rows, err := db.Pool.Query(context.Background(), "SELECT type FROM event_outbox ORDER BY xid, event_id")
				if err != nil {
					t.Fatal(err)
				}
				var types []string
				for rows.Next() {
					var typ string
					if err := rows.Scan(&typ); err != nil {
						t.Fatal(err)
					}
					types = append(types, typ)
				}
				return types
			},
		}
	})
}
