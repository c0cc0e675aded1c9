package mongodb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

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

// TestSessionsReportDatabaseFailures: a read of the user that fails (here, on a cancelled
// context) is an error, not a user without sessions: an empty list or a revocation that
// deleted nothing must not pass for success.
func TestSessionsReportDatabaseFailures(t *testing.T) {
	t.Parallel()
	db, _ := mongotest.Database(t)
	sessions := mongodb.New(db, nil).Sessions()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	user := uuid.Must(uuid.NewV7())
	if list, err := sessions.List(ctx, user, time.Now()); err == nil {
		t.Errorf("List on a failing database: %v and no error", list)
	}
	if ids, err := sessions.DeleteAll(ctx, user, uuid.Nil); err == nil {
		t.Errorf("DeleteAll on a failing database: %v and no error", ids)
	}
}
