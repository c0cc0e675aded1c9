package sqlite_test

import (
	"testing"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/users/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db := dbtest.SQLite(t, users.Migrations(), eventsql.Migrations())
		return porttest.Store{
			Users:    sqlite.NewRepository(db.SQL, nil),
			Sessions: sqlite.NewSessions(db.SQL),
			UoW:      sqlite.NewUnitOfWork(db.SQL, nil),
			Serial:   true,
			Outbox: func(t *testing.T) []string {
				rows, err := db.SQL.Query("SELECT type FROM event_outbox ORDER BY seq")
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = rows.Close() }()
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
