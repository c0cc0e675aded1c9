package sqlite_test

import (
	"testing"

	"github.com/acme/userservice/modules/notifications/adapters/sqlite"
	"github.com/acme/userservice/modules/notifications/ports/storetest"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
	notificationsql "github.com/acme/userservice/queries/notifications"
)

// TestTokensWorkOnceUnlessGivenBack: see storetest.
func TestTokensWorkOnceUnlessGivenBack(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t, eventsql.Migrations(), notificationsql.Migrations())
	storetest.TokensWorkOnceUnlessGivenBack(t, sqlite.New(db.SQL, nil))
}
