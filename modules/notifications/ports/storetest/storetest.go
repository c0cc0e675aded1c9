// Package storetest holds checks of a notifications Store that hold for every adapter.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/domain"
	"github.com/acme/userservice/modules/notifications/ports"
)

// AddJobsOnceAsksOncePerEvent: an event delivered again (in a later batch, or twice in one)
// asks for no second mail, and another handler's events are its own.
func AddJobsOnceAsksOncePerEvent(t *testing.T, s ports.Store) {
	t.Helper()
	ctx := context.Background()
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
