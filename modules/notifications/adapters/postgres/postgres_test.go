package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/adapters/postgres"
	"github.com/acme/userservice/modules/notifications/domain"
	"github.com/acme/userservice/modules/notifications/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
	notificationsql "github.com/acme/userservice/queries/notifications"
)

// TestAddJobsOnceAsksOncePerEvent: a batch's jobs are stored in two statements, and an event
// delivered again (in a later batch, or twice in one) asks for no second mail.
func TestAddJobsOnceAsksOncePerEvent(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, database.Postgres, eventsql.Migrations(), notificationsql.Migrations())
	s := postgres.New(db.Pool, nil)
	now := time.Now().UTC().Truncate(time.Microsecond)
	ask := func(event uuid.UUID) ports.EventJob {
		return ports.EventJob{EventID: event, Job: domain.NewJob(uuid.Must(uuid.NewV7()), domain.PurposeVerifyEmail,
			uuid.Must(uuid.NewV7()), "ann@example.com", "req", now)}
	}
	a, b, c := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	if err := s.AddJobsOnce(ctx, "h", ask(a), ask(b), ask(a)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Backlog(ctx); err != nil || n != 2 {
		t.Fatalf("%d jobs (%v) after a batch of two events, one given twice; want 2", n, err)
	}
	// Delivered again with a new one: only the new one asks.
	if err := s.AddJobsOnce(ctx, "h", ask(b), ask(c), ask(a)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Backlog(ctx); err != nil || n != 3 {
		t.Fatalf("%d jobs (%v) after a redelivery with one new event; want 3", n, err)
	}
	// Another handler's processed ids are its own.
	if err := s.AddJobsOnce(ctx, "other", ask(a)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Backlog(ctx); err != nil || n != 4 {
		t.Fatalf("%d jobs (%v) after another handler's event; want 4", n, err)
	}
	jobs, err := s.ClaimJobs(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(jobs) != 4 {
		t.Fatalf("claimed %d jobs (%v); want 4 due at once", len(jobs), err)
	}
	for _, j := range jobs {
		if j.Email != "ann@example.com" || j.RequestID != "req" || j.Purpose != domain.PurposeVerifyEmail || !j.CreatedAt.Equal(now) {
			t.Fatalf("stored job %+v", j)
		}
	}
}
