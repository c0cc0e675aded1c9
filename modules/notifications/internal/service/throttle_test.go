package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/modules/notifications"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/throttle/redistest"
	eventsql "github.com/acme/userservice/queries/events"
)

// clock is a fake clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// forStoresAndThrottles runs fn on a service with a store of every engine and each throttle
// (the instance's own and Redis), both on one fake clock.
func forStoresAndThrottles(t *testing.T, fn func(t *testing.T, svc *service.Service, store ports.Store, c *clock)) {
	t.Helper()
	srv := redistest.Start(t)
	throttles := []struct {
		name string
		on   func(t *testing.T, now func() time.Time) ports.Throttle
	}{
		{"memory", func(_ *testing.T, now func() time.Time) ports.Throttle { return throttle.New(now) }},
		{"redis", func(t *testing.T, now func() time.Time) ports.Throttle {
			r, err := throttle.NewRedis(srv.URL(), t.Name()+":", now, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}},
	}
	open := func(t *testing.T, engine database.Engine) *database.DB {
		if engine == database.MongoDB {
			return mongotest.Open(t, notifications.Migrations())
		}
		return dbtest.Open(t, engine, notifications.Migrations(), eventsql.Migrations())
	}
	for _, engine := range append(dbtest.Engines(), database.MongoDB) {
		for _, th := range throttles {
			t.Run(string(engine)+"/"+th.name, func(t *testing.T) {
				t.Parallel()
				store, err := notifications.NewStore(open(t, engine), nil)
				if err != nil {
					t.Fatal(err)
				}
				c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
				svc := service.New(service.Deps{Store: store, Throttle: th.on(t, c.Now), Clock: c})
				fn(t, svc, store, c)
			})
		}
	}
}

// TestVerificationMailsPerRecipient: the events that ask for verification mail get
// MailsPerRecipient mails to one mailbox within RecipientWindow, its +tag and case variants
// counted as the mailbox; the rest are dropped (returned, not failed), an event delivered
// again counts once, other mailboxes are not held up, and the window slides.
func TestVerificationMailsPerRecipient(t *testing.T) {
	t.Parallel()
	forStoresAndThrottles(t, func(t *testing.T, svc *service.Service, store ports.Store, c *clock) {
		ctx := context.Background()
		ask := func(email string) service.Ask {
			return service.Ask{EventID: uuid.Must(uuid.NewV7()), UserID: uuid.Must(uuid.NewV7()), Email: email}
		}
		backlog := func() int {
			t.Helper()
			n, err := store.Backlog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		var asks []service.Ask
		for i := range service.MailsPerRecipient + 2 {
			asks = append(asks, ask([]string{"ann+%d@example.com", "Ann+%d@Example.com"}[i%2]))
			asks[i].Email = fmt.Sprintf(asks[i].Email, i)
		}
		asks = append(asks, ask("bob@example.com"))
		throttled, err := svc.AskVerification(ctx, "h", asks...)
		if err != nil {
			t.Fatal(err)
		}
		if len(throttled) != 2 || throttled[0] != asks[service.MailsPerRecipient] || throttled[1] != asks[service.MailsPerRecipient+1] {
			t.Fatalf("throttled %v; want the two asks past the limit", throttled)
		}
		if n := backlog(); n != service.MailsPerRecipient+1 {
			t.Fatalf("%d jobs; want %d to ann's mailbox and bob's", n, service.MailsPerRecipient+1)
		}
		// Delivered again (the batch's transaction failed, say): counted once, asked once.
		if throttled, err := svc.AskVerification(ctx, "h", asks[0]); err != nil || len(throttled) != 0 {
			t.Fatalf("an event delivered again: %v %v", throttled, err)
		}
		if n := backlog(); n != service.MailsPerRecipient+1 {
			t.Fatalf("%d jobs after a redelivery", n)
		}
		c.advance(service.RecipientWindow - time.Millisecond)
		if throttled, _ := svc.AskVerification(ctx, "h", ask("ann@example.com")); len(throttled) != 1 {
			t.Fatal("a mail to ann's mailbox within the window was asked for")
		}
		c.advance(time.Millisecond)
		if throttled, err := svc.AskVerification(ctx, "h", ask("ann@example.com")); err != nil || len(throttled) != 0 {
			t.Fatalf("after the window: %v %v", throttled, err)
		}
	})
}
