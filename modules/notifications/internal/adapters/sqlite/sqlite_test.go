package sqlite_test

import (
	"testing"

	"github.com/acme/userservice/modules/notifications/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/notifications/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
	notificationsql "github.com/acme/userservice/queries/notifications"
)

// TestTokensWorkOnceUnlessGivenBack: see porttest.
func TestTokensWorkOnceUnlessGivenBack(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t, eventsql.Migrations(), notificationsql.Migrations())
	porttest.TokensWorkOnceUnlessGivenBack(t, sqlite.New(db.SQL, nil))
}
