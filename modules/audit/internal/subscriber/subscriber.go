// Package subscriber turns the events the audit trail records into its entries: the
// envelope says who did what to whom and when, and of the payload only the names of the fields
// an update changed are kept, never their values.
package subscriber

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/service"
	"github.com/acme/userservice/platform/events"
)

// New subscribes the trail to the events it records.
func New(svc *service.Service) events.Subscription {
	return events.Subscription{
		Handler: service.Handler,
		Types:   domain.Types(),
		Handle: func(ctx context.Context, e events.Event) error {
			entry, err := entryOf(e)
			if err != nil {
				return err
			}
			return svc.Record(ctx, entry)
		},
		// A relay's batch in one transaction: the trail keeps up with registrations.
		HandleBatch: func(ctx context.Context, evs []events.Event) error {
			entries := make([]domain.Entry, len(evs))
			for i, e := range evs {
				var err error
				if entries[i], err = entryOf(e); err != nil {
					return err
				}
			}
			return svc.RecordAll(ctx, entries)
		},
		// Added to a running service, the trail begins with every event still retained; an
		// event it already holds is recorded once (its id is the entry's key).
		Start: events.StartBeginning,
	}
}

// entryOf reads the trail's entry from a user event: its envelope, and from its payload
// (documented in docs/events.md) only the names of the fields an update changed.
func entryOf(e events.Event) (domain.Entry, error) {
	target, err := uuid.Parse(e.Subject)
	if err != nil {
		return domain.Entry{}, fmt.Errorf("audit: event %s: subject %q is not a user id", e.ID, e.Subject)
	}
	var payload struct {
		Changed []string `json:"changed"`
	}
	if err := e.Decode(&payload); err != nil {
		return domain.Entry{}, fmt.Errorf("audit: event %s: %w", e.ID, err)
	}
	return domain.NewEntry(e.ID, e.Type, e.Actor, target, e.RequestID, payload.Changed, e.Time)
}
