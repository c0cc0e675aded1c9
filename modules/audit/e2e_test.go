package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/fx"

	"github.com/acme/userservice/modules/audit"
	"github.com/acme/userservice/modules/users"
	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
)

// The end-to-end tests run the whole application with the users module (whose events the trail
// records) and this one, over real HTTP with the generated client.

var ctx = context.Background()

// trail waits until the trail about user holds n entries (events are relayed after the
// commit) and returns them, newest first.
func trail(t *testing.T, admin *oas.Client, params oas.ListAuditEventsParams, n int) []oas.AuditEvent {
	t.Helper()
	var items []oas.AuditEvent
	wait.For(t, 10*time.Second, fmt.Sprintf("%d entries in the trail", n), func() error {
		res, err := admin.ListAuditEvents(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		page, ok := res.(*oas.AuditEventPage)
		if !ok {
			t.Fatalf("list: %T %+v", res, res)
		}
		if items = page.Items; len(items) < n {
			return fmt.Errorf("%d entries: %+v", len(items), items)
		}
		return nil
	})
	if len(items) != n {
		t.Fatalf("the trail has %d entries, want %d: %+v", len(items), n, items)
	}
	return items
}

// TestTrailOfTheAcceptanceScenario runs every user operation and finds each in the trail with
// the right actor, the deleted user's trail kept, and no secret in any stored event or entry.
func TestTrailOfTheAcceptanceScenario(t *testing.T) {
	t.Parallel()
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) {
		acceptanceTrail(t, apptest.Start(t, engine, fx.Options(users.Module, audit.Module)))
	})
}

// acceptanceTrail runs the scenario on a and checks the trail.
func acceptanceTrail(t *testing.T, a *apptest.App) {
	t.Helper()
	admin := a.NewAdmin(t)
	u := a.NewUser(t) // registered (self)
	if _, err := u.Client.UpdateUser(ctx, &oas.UpdateUserRequest{Email: oas.NewOptString("renamed@example.com")}, oas.UpdateUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Client.UpdateUser(ctx, &oas.UpdateUserRequest{Role: oas.NewOptRole(oas.RoleAdmin)}, oas.UpdateUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	newPassword := "a brand new password"
	if res, err := u.Client.ChangePassword(ctx, &oas.ChangePasswordRequest{CurrentPassword: u.Password, NewPassword: newPassword}); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*oas.ChangePasswordNoContent); !ok {
		t.Fatalf("change password: %T", res)
	}
	// The new password ended every session of the user: they log in again.
	u.Token = a.Login(t, "renamed@example.com", newPassword)
	u.Client = a.As(t, u.Token)
	if _, err := u.Client.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Client.ActivateUser(ctx, oas.ActivateUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if res, err := admin.Client.DeleteUser(ctx, oas.DeleteUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*oas.DeleteUserNoContent); !ok {
		t.Fatalf("delete: %T", res)
	}

	items := trail(t, admin.Client, oas.ListAuditEventsParams{UserID: oas.NewOptUUID(u.ID)}, 11)
	slices.Reverse(items) // oldest first, as done
	self, adm := u.ID.String(), admin.ID.String()
	want := []struct{ typ, actor, changed string }{
		{userevents.TypeRegistered, "self", "username,email,role,is_active"},
		{userevents.TypeSessionCreated, self, ""},
		{userevents.TypeUpdated, self, "email"},
		{userevents.TypeRoleChanged, adm, "role"},
		{userevents.TypePasswordChanged, self, "password"},
		{userevents.TypeSessionRevoked, self, ""},
		{userevents.TypeSessionCreated, self, ""},
		{userevents.TypeDeactivated, self, "is_active"},
		{userevents.TypeSessionRevoked, self, ""},
		{userevents.TypeActivated, adm, "is_active"},
		{userevents.TypeDeleted, adm, ""},
	}
	for i, w := range want {
		got := items[i]
		if got.Type != w.typ || got.Actor != w.actor || strings.Join(got.Changed, ",") != w.changed || got.UserID != u.ID {
			t.Errorf("entry %d: %s by %s changing %v; want %s by %s changing %s", i, got.Type, got.Actor, got.Changed, w.typ, w.actor, w.changed)
		}
		if i > 0 && got.RequestID == "" {
			t.Errorf("entry %d (%s) has no request id", i, got.Type)
		}
	}
	// Filters: by actor and by type.
	if byAdmin := trail(t, admin.Client, oas.ListAuditEventsParams{UserID: oas.NewOptUUID(u.ID), ActorID: oas.NewOptString(adm)}, 3); byAdmin[0].Type != userevents.TypeDeleted {
		t.Errorf("by the admin, newest first: %+v", byAdmin)
	}
	trail(t, admin.Client, oas.ListAuditEventsParams{UserID: oas.NewOptUUID(u.ID), Type: oas.NewOptString(userevents.TypeDeleted)}, 1)

	// Only admins read the trail.
	other := a.NewUser(t)
	if res, err := other.Client.ListAuditEvents(ctx, oas.ListAuditEventsParams{}); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*oas.ListAuditEventsForbidden); !ok {
		t.Fatalf("a user reads the trail: %T", res)
	}
	if status, _, body := a.Raw(t, "GET", "/audit-events?after=garbage", admin.Token, ""); status != http.StatusBadRequest || !strings.Contains(body, "after") {
		t.Errorf("garbage cursor: %d %s", status, body)
	}

	// No secret anywhere: not the passwords, not a hash, not a token.
	secrets := []string{u.Password, newPassword, admin.Password, u.Token, admin.Token, "$argon2"}
	for _, tok := range []string{u.Token, admin.Token} {
		secrets = append(secrets, strings.Split(tok, ".")[2]) // the signature alone
	}
	for _, table := range []string{"event_outbox", "audit_events", "event_dead_letters"} {
		rows := dump(t, a.DB, table)
		if table != "event_dead_letters" && len(rows) < 7 {
			t.Fatalf("%s has %d rows: the scan would prove nothing", table, len(rows))
		}
		for _, row := range rows {
			for _, s := range secrets {
				if strings.Contains(row, s) {
					t.Errorf("%s holds a secret: %s", table, row)
				}
			}
		}
	}
}

// mongoCollections are the collections on MongoDB that hold what the tables do.
var mongoCollections = map[string]string{"event_outbox": "event_feed", "audit_events": "audit_events", "event_dead_letters": "event_dead_letters"}

// dump returns every row of table (on MongoDB, document of its collection) as text.
func dump(t *testing.T, db *database.DB, table string) []string {
	t.Helper()
	q := "SELECT * FROM " + table
	var out []string
	if db.Engine == database.MongoDB {
		cur, err := db.Mongo.Collection(mongoCollections[table]).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			out = append(out, fmt.Sprint(d))
		}
		return out
	}
	if db.Engine == database.Postgres {
		rows, err := db.Pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rows, err := db.SQL.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
