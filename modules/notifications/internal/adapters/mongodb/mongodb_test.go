package mongodb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications"
	notifevents "github.com/acme/userservice/modules/notifications/events"
	"github.com/acme/userservice/modules/notifications/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/ports/porttest"
	"github.com/acme/userservice/platform/database/mongotest"
)

func TestAddJobsOnceAsksOncePerEvent(t *testing.T) {
	t.Parallel()
	porttest.AddJobsOnceAsksOncePerEvent(t, mongodb.New(mongotest.Open(t, notifications.Migrations()).Mongo, nil))
}

// TestTokensWorkOnceUnlessGivenBack: see porttest.
func TestTokensWorkOnceUnlessGivenBack(t *testing.T) {
	t.Parallel()
	porttest.TokensWorkOnceUnlessGivenBack(t, mongodb.New(mongotest.Open(t, notifications.Migrations()).Mongo, nil))
}

// TestAnEndedJobStillAnswersForItsEvent: the job an event asked for, once sent, is kept for
// EndedJobsKept, so that a late redelivery of the event asks for nothing; then it is pruned.
func TestAnEndedJobStillAnswersForItsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mongodb.New(mongotest.Open(t, notifications.Migrations()).Mongo, nil)
	now := time.Now().UTC().Truncate(time.Microsecond)
	event := uuid.Must(uuid.NewV7())
	ask := ports.EventJob{EventID: event, Job: domain.NewJob(uuid.Must(uuid.NewV7()), domain.PurposeVerifyEmail,
		uuid.Must(uuid.NewV7()), "ann@example.com", "req", now)}
	if err := s.AddJobsOnce(ctx, "h", ask); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claimed %d (%v)", len(jobs), err)
	}
	tok := domain.NewToken([]byte("digest"), jobs[0], now)
	if err := s.AddTokens(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Sent(ctx, ports.SentJob{Job: jobs[0], Token: tok, Event: ports.Event{Type: notifevents.TypeVerificationSent,
		Subject: jobs[0].UserID, Time: now, Actor: "system"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddJobsOnce(ctx, "h", ask); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Backlog(ctx); err != nil || n != 0 {
		t.Fatalf("%d jobs waiting (%v) after the sent job's event came again; want 0", n, err)
	}
	if err := s.Prune(ctx, now.Add(mongodb.EndedJobsKept+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddJobsOnce(ctx, "h", ask); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Backlog(ctx); err != nil || n != 1 {
		t.Fatalf("%d jobs waiting (%v) once the ended job was pruned; want the event to ask again", n, err)
	}
}
