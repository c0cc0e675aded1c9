// Package porttest is the contract suite of the notifications Store port: checks that hold
// for every adapter.
package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

// AddJobsOnceAsksOncePerEvent checks that an event delivered again (in a later batch, or twice in one)
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

// TokensWorkOnceUnlessGivenBack checks that a token works once, for its purpose, before it expires, and
// of concurrent uses one wins; a use given back (ReleaseToken, at the time of that use) makes
// it work again, and a release at another time changes nothing.
func TokensWorkOnceUnlessGivenBack(t *testing.T, s ports.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	user := uuid.Must(uuid.NewV7())
	job := domain.NewJob(uuid.Must(uuid.NewV7()), domain.PurposeResetPassword, user, "ann@example.com", "", now)
	digest := []byte("porttest digest of 32 bytes.....")
	if err := s.AddTokens(ctx, domain.NewToken(digest, job, now)); err != nil {
		t.Fatal(err)
	}
	use := func(at time.Time) error {
		id, email, err := s.UseToken(ctx, digest, domain.PurposeResetPassword, at)
		if err == nil && (id != user || email != "ann@example.com") {
			t.Fatalf("the token was sent to %s %s; want %s ann@example.com", id, email, user)
		}
		return err
	}
	if _, _, err := s.UseToken(ctx, digest, domain.PurposeVerifyEmail, now); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("a reset token used to verify: %v", err)
	}

	// Eight at once: one wins.
	used := now.Add(time.Second)
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- use(used) }()
	}
	won := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrInvalidToken):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 concurrent uses worked; want 1", won)
	}

	if err := s.ReleaseToken(ctx, digest, domain.PurposeResetPassword, used.Add(time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	if err := use(now.Add(2 * time.Second)); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("after a release of another use: %v; want still used", err)
	}
	if err := s.ReleaseToken(ctx, digest, domain.PurposeResetPassword, used); err != nil {
		t.Fatal(err)
	}
	again := now.Add(3 * time.Second)
	if err := use(again); err != nil {
		t.Fatalf("after its use was given back: %v", err)
	}
	if err := s.ReleaseToken(ctx, digest, domain.PurposeResetPassword, again); err != nil {
		t.Fatal(err)
	}
	if err := use(now.Add(job.Purpose.TTL())); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("at its expiry: %v; want expired", err)
	}
}
