package postgres_test

import (
	"testing"

	"github.com/acme/userservice/modules/notifications/internal/adapters/postgres"
	"github.com/acme/userservice/modules/notifications/internal/ports/porttest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
	notificationsql "github.com/acme/userservice/queries/notifications"
)

// TestAddJobsOnceAsksOncePerEvent: a batch's jobs are stored in two statements, and an event
// delivered again asks for no second mail.
func TestAddJobsOnceAsksOncePerEvent(t *testing.T) {
	db := dbtest.Open(t, database.Postgres, eventsql.Migrations(), notificationsql.Migrations())
	porttest.AddJobsOnceAsksOncePerEvent(t, postgres.New(db.Pool, nil))
}

// TestTokensWorkOnceUnlessGivenBack: see porttest.
func TestTokensWorkOnceUnlessGivenBack(t *testing.T) {
	db := dbtest.Open(t, database.Postgres, eventsql.Migrations(), notificationsql.Migrations())
	porttest.TokensWorkOnceUnlessGivenBack(t, postgres.New(db.Pool, nil))
}
