package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/adapters/postgres"
	"github.com/acme/userservice/modules/users/domain"
	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/modules/users/ports/porttest"
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

// TestGetManyReadsTheUsersThatExist: the batch read (ports.UsersReader) returns each existing
// user once, whatever the order or repetition of the ids, and skips the ids of no user.
func TestGetManyReadsTheUsersThatExist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Postgres(t, users.Migrations(), eventsql.Migrations())
	repo := postgres.NewRepository(db.Pool, nil)
	var want []*domain.User
	for _, name := range []string{"ann", "bob", "cyd"} {
		u, err := domain.NewUser(uuid.Must(uuid.NewV7()), name, name+"@example.com", time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Add(ctx, u); err != nil {
			t.Fatal(err)
		}
		want = append(want, u)
	}
	var _ ports.UsersReader = repo
	got, err := repo.GetMany(ctx, []uuid.UUID{want[2].ID(), uuid.New(), want[0].ID(), want[2].ID()})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uuid.UUID]domain.Snapshot{}
	for _, u := range got {
		byID[u.ID()] = u.Snapshot()
	}
	if len(got) != 2 || byID[want[0].ID()] != want[0].Snapshot() || byID[want[2].ID()] != want[2].Snapshot() {
		t.Fatalf("GetMany read %+v; want ann and cyd once each", byID)
	}
	if got, err := repo.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany of no ids: %v, %v", got, err)
	}
}
