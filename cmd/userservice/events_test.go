package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/events/natstest"
	"github.com/acme/userservice/platform/oas"
)

// The events backbone held against the built binary: a crash between a commit and the
// publication of its event, a broker outage, and two instances sharing one database and one
// NATS. The audit module is the consumer whose trail is counted.

// checkEventsOnce waits until the audit trail has caught up with the users table, then checks
// that every user in emails (each acknowledged with a 201) has exactly one registered event in
// the outbox and exactly one registered entry in the trail, and that no event names a user
// that was never committed.
func checkEventsOnce(t *testing.T, dbURL string, emails []string) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	users := count("SELECT count(*) FROM users")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if count("SELECT count(*) FROM audit_events WHERE type = 'userservice.user.registered.v1'") >= users {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trail did not catch up: %d users, %d entries, %d events pending", users,
				count("SELECT count(*) FROM audit_events"), count(pendingSQL))
		}
	}
	for _, email := range emails {
		if n := count(`SELECT count(*) FROM event_outbox e JOIN users u ON e.envelope::json->>'subject' = u.user_id::text
			WHERE u.email = $1 AND e.type = 'userservice.user.registered.v1'`, email); n != 1 {
			t.Errorf("%s: %d registered events in the outbox, want 1", email, n)
		}
		if n := count(`SELECT count(*) FROM audit_events a JOIN users u ON a.target = u.user_id::text
			WHERE u.email = $1 AND a.type = 'userservice.user.registered.v1'`, email); n != 1 {
			t.Errorf("%s: %d registered entries in the trail, want 1", email, n)
		}
	}
	if n := count(`SELECT count(*) FROM event_outbox e WHERE NOT EXISTS (SELECT 1 FROM users u WHERE e.envelope::json->>'subject' = u.user_id::text)`); n != 0 {
		t.Errorf("%d events name users that were never committed", n)
	}
	if n := count(`SELECT count(*) FROM (SELECT target FROM audit_events GROUP BY target, type HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d users have an event recorded twice in the trail", n)
	}
}

// pendingSQL counts the events in the outbox that the relay has not published: those after
// their part's mark.
const pendingSQL = `SELECT count(*) FROM event_outbox o
	JOIN event_relay r ON o.part = r.part AND (o.xid, o.event_id) > (r.last_xid, r.last_event)`

// pendingEvents returns how many events wait in the outbox.
func pendingEvents(t *testing.T, dbURL string) int {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(context.Background(), pendingSQL).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashBetweenCommitAndPublish kills the binary with SIGKILL while registrations run, so
// that some committed registrations' events are not yet published; after a restart every
// acknowledged registration's event reaches the consumer exactly once, with the embedded
// broker and with NATS (where a publication repeated after the crash is dropped by JetStream).
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	for _, broker := range []string{"embedded", "nats"} {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			dbURL := dbtest.URL(t, database.Postgres)
			// REGISTRATION_MAX_PER_ADDR=0: the load comes from one address, which the limit would stop.
			env := map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": freeAddr(t), "JWT_SECRET": apptest.Secret, "LOG_LEVEL": "error",
				"REGISTRATION_MAX_PER_ADDR": "0"}
			if broker == "nats" {
				env["NATS_URL"] = natstest.Start(t).URL()
			}
			cmd, _ := startServe(t, bin, env)
			stop := make(chan struct{})
			var created []string
			var wg sync.WaitGroup
			wg.Go(func() { created = loadRegistrations("http://"+env["HTTP_ADDR"], 16, stop) })
			time.Sleep(700 * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			close(stop)
			wg.Wait()
			if len(created) == 0 {
				t.Fatal("no registration was acknowledged before the crash")
			}
			pending := pendingEvents(t, dbURL)
			startServe(t, bin, env)
			checkEventsOnce(t, dbURL, created)
			t.Logf("%d registrations acknowledged before SIGKILL, %d events not yet published then; each delivered once after the restart",
				len(created), pending)
		})
	}
}

// TestEventsThroughNATS runs two instances on one database and one NATS: registrations on
// either are recorded once by the audit module (one durable consumer, not one per instance);
// with NATS stopped, registering still answers 201 and /readyz stays 200, and the events
// arrive once NATS is back.
func TestEventsThroughNATS(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	nats := natstest.Start(t)
	dbURL := dbtest.URL(t, database.Postgres)
	var bases []string
	for range 2 {
		// REGISTRATION_MAX_PER_ADDR=0: 40 registrations from one address, past the limit.
		env := map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": freeAddr(t), "JWT_SECRET": apptest.Secret,
			"LOG_LEVEL": "error", "NATS_URL": nats.URL(), "REGISTRATION_MAX_PER_ADDR": "0"}
		startServe(t, bin, env)
		bases = append(bases, "http://"+env["HTTP_ADDR"])
	}
	register := func(i int) string {
		email := fmt.Sprintf("nats%d@example.com", i)
		resp, err := http.Post(bases[i%2]+"/users", "application/json",
			strings.NewReader(fmt.Sprintf(`{"username":"nats_%d","email":%q}`, i, email)))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register %d: %d", i, resp.StatusCode)
		}
		return email
	}
	var emails []string
	for i := range 20 {
		emails = append(emails, register(i))
	}
	checkEventsOnce(t, dbURL, emails)

	nats.Stop()
	for i := 20; i < 40; i++ {
		emails = append(emails, register(i))
	}
	for _, b := range bases {
		if !ready(b) {
			t.Errorf("%s is not ready while NATS is down: writes still work, events wait in the outbox", b)
		}
	}
	nats.Restart()
	checkEventsOnce(t, dbURL, emails)
}

// TestDeadLettersListedAndReplayed: a handler that keeps failing leaves its event in the dead
// letters, which an admin lists and, once the cause is fixed, replays; the other handlers were
// not held up.
func TestDeadLettersListedAndReplayed(t *testing.T) {
	t.Parallel()
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) {
		var broken atomic.Bool
		broken.Store(true)
		var handled atomic.Int32
		flaky := events.AsSubscription(func() events.Subscription {
			return events.Subscription{Handler: "test.flaky", Types: []string{userevents.TypeDeleted},
				Handle: func(context.Context, events.Event) error {
					if broken.Load() {
						return errors.New("the flaky handler's dependency is broken")
					}
					handled.Add(1)
					return nil
				}}
		})
		a := &api{apptest.Start(t, engine, features(), apptest.With(fx.Provide(flaky)))}
		admin := a.NewAdmin(t)
		u := a.register(t, "doomed", "doomed@example.com")
		if _, err := admin.Client.DeleteUser(ctx, oas.DeleteUserParams{UserID: u.UserID}); err != nil {
			t.Fatal(err)
		}
		var dead *oas.DeadLetterList
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			res, err := admin.Client.ListDeadLetters(ctx, oas.ListDeadLettersParams{})
			if err != nil {
				t.Fatal(err)
			}
			if dead = res.(*oas.DeadLetterList); len(dead.Items) > 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(dead.Items) != 1 {
			t.Fatalf("dead letters: %+v", dead.Items)
		}
		d := dead.Items[0]
		if d.Handler != "test.flaky" || d.Event.Type != userevents.TypeDeleted || d.Attempts != 5 ||
			d.Event.Subject.Or("") != u.UserID.String() || !strings.Contains(d.Error, "broken") {
			t.Fatalf("dead letter %+v", d)
		}
		ref := &oas.DeadLetterRef{Handler: d.Handler, EventID: d.Event.ID}
		if res, err := admin.Client.ReplayDeadLetter(ctx, ref); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.ReplayDeadLetterConflict); !ok {
			t.Fatalf("replay while still broken: %T", res)
		}
		broken.Store(false)
		if res, err := admin.Client.ReplayDeadLetter(ctx, ref); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.ReplayDeadLetterNoContent); !ok {
			t.Fatalf("replay: %T", res)
		}
		if handled.Load() != 1 {
			t.Fatalf("the handler ran %d times after the fix, want 1", handled.Load())
		}
		if res, err := admin.Client.ReplayDeadLetter(ctx, ref); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.ReplayDeadLetterNotFound); !ok {
			t.Fatalf("replay again: %T", res)
		}
		if res, err := admin.Client.ListDeadLetters(ctx, oas.ListDeadLettersParams{}); err != nil || len(res.(*oas.DeadLetterList).Items) != 0 {
			t.Fatalf("after the replay: %+v %v", res, err)
		}
		if res, err := a.NewUser(t).Client.ListDeadLetters(ctx, oas.ListDeadLettersParams{}); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.ListDeadLettersForbidden); !ok {
			t.Fatalf("a user lists dead letters: %T", res)
		}
		// The audit trail, another handler of the same event, was not held up.
		if res, err := admin.Client.ListAuditEvents(ctx, oas.ListAuditEventsParams{UserID: oas.NewOptUUID(u.UserID), Type: oas.NewOptString(userevents.TypeDeleted)}); err != nil || len(res.(*oas.AuditEventPage).Items) != 1 {
			t.Fatalf("the trail: %+v %v", res, err)
		}
	})
}

// TestEventsWithTheSmallestPool: with the smallest pool allowed, the relay (which holds a
// connection while the embedded broker's handlers run) and the audit handler (which needs
// another) still deliver every event while requests go on.
func TestEventsWithTheSmallestPool(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.Postgres, apptest.Env("DB_MAX_CONNS", "2"))
	admin := a.NewAdmin(t)
	for i := range 5 {
		a.register(t, fmt.Sprintf("small_%d", i), fmt.Sprintf("small_%d@example.com", i))
	}
	params := oas.ListAuditEventsParams{Type: oas.NewOptString(userevents.TypeRegistered)}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := admin.Client.ListAuditEvents(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.(*oas.AuditEventPage).Items); n == 6 { // the five and the admin
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("the trail has %d of 6 registrations", n)
		}
	}
}
