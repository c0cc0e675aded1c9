// Package outbox turns the notifications module's events into the platform's CloudEvents
// envelopes, for both storage adapters to write to the outbox in their transactions.
package outbox

import (
	"context"

	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/reqctx"
)

// Source is the CloudEvents source of the module's events.
const Source = "userservice/notifications"

// Envelopes returns the envelopes of evs; an event without a request id gets the one of the
// request in ctx.
func Envelopes(ctx context.Context, evs []ports.Event) ([]events.Event, error) {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		rid := e.RequestID
		if rid == "" {
			rid = reqctx.RequestID(ctx)
		}
		var err error
		if out[i], err = events.New(Source, e.Type, e.Subject.String(), e.Time, e.Actor, rid, e.Data); err != nil {
			return nil, err
		}
	}
	return out, nil
}
