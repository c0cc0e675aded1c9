// Package subscriber turns the users module's events into the notifications service's work:
// a registration or a new address asks for a verification mail. It reads the events by the
// payloads the users module publishes (modules/users/events).
package subscriber

import (
	"context"
	"fmt"
	"slices"

	userevents "github.com/acme/userservice/modules/users/events"

	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/events"
)

// Handler is the name under which the subscription's processed events are recorded.
const Handler = "notifications.verification"

// New asks for a verification mail when a user registers and when an address changes.
func New(svc *service.Service) events.Subscription {
	return events.Subscription{
		Handler: Handler,
		Types:   []string{userevents.TypeRegistered, userevents.TypeUpdated},
		Handle: func(ctx context.Context, e events.Event) error {
			return handleBatch(ctx, svc, []events.Event{e})
		},
		// A relay's batch in one transaction: the jobs keep up with registrations.
		HandleBatch: func(ctx context.Context, evs []events.Event) error { return handleBatch(ctx, svc, evs) },
		// Added to a running service, the module mails no one for the registrations it was
		// not there for.
		Start: events.StartNow,
	}
}

func handleBatch(ctx context.Context, svc *service.Service, evs []events.Event) error {
	asks := make([]service.Ask, 0, len(evs))
	for _, e := range evs {
		a, wanted, err := askOf(e)
		if err != nil {
			return fmt.Errorf("notifications: event %s: %w", e.ID, err)
		}
		if wanted {
			asks = append(asks, a)
		}
	}
	return svc.AskVerification(ctx, Handler, asks...)
}

// askOf reads the verification mail an event asks for; wanted is false for an update that
// left the address as it was.
func askOf(e events.Event) (a service.Ask, wanted bool, err error) {
	a = service.Ask{EventID: e.ID, RequestID: e.RequestID}
	switch e.Type {
	case userevents.TypeRegistered:
		var p userevents.Registered
		if err := e.Decode(&p); err != nil {
			return a, false, err
		}
		a.UserID, a.Email = p.UserID, p.Email
		return a, true, nil
	case userevents.TypeUpdated:
		var p userevents.Updated
		if err := e.Decode(&p); err != nil {
			return a, false, err
		}
		a.UserID, a.Email = p.UserID, p.Email
		return a, slices.Contains(p.Changed, "email"), nil
	}
	return a, false, fmt.Errorf("type %s is not one the subscription asked for", e.Type)
}
