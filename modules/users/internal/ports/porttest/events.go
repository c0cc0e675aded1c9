package porttest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

// event is a recorded event of the type about u.
func event(typ string, u *domain.User) ports.Event {
	return ports.Event{Type: typ, Subject: u.ID(), Time: base, Actor: "system", Data: userevents.UserRef{UserID: u.ID()}}
}

// testEventsCommitWithTheChange: the outbox holds an event exactly when its change committed.
func testEventsCommitWithTheChange(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "john_doe", "john@example.com", base)
	must(t, s.Users.Add(ctx, u, event(userevents.TypeRegistered, u)))
	dup := newUser(t, "other", "JOHN@example.com", base)
	if err := s.Users.Add(ctx, dup, event(userevents.TypeRegistered, dup)); !errors.As(err, new(*domain.AlreadyExistsError)) {
		t.Fatalf("duplicate: %v", err)
	}
	errBoom := errors.New("boom")
	err := s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		u.Deactivate(base.Add(time.Hour))
		must(t, r.Users.Update(ctx, u))
		must(t, r.Events.Record(ctx, event(userevents.TypeDeactivated, u)))
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("want the function's error, got %v", err)
	}
	must(t, s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		must(t, r.Users.Delete(ctx, u.ID()))
		return r.Events.Record(ctx, event(userevents.TypeDeleted, u))
	}))
	// Registered and deleted; neither the refused duplicate nor the rolled-back deactivation.
	if got, want := s.Outbox(t), []string{userevents.TypeRegistered, userevents.TypeDeleted}; !slices.Equal(got, want) {
		t.Fatalf("outbox holds %v, want %v", got, want)
	}
}
