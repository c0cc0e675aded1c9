// Package outbox turns the users module's events into the platform's CloudEvents envelopes,
// with the id of the request in progress, for both storage adapters to write to the outbox.
package outbox

import (
	"context"

	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/reqctx"
)

// Source is the CloudEvents source of the module's events.
const Source = "userservice/users"

// Envelopes returns the envelopes of evs.
func Envelopes(ctx context.Context, evs []ports.Event) ([]events.Event, error) {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		var err error
		if out[i], err = events.New(Source, e.Type, e.Subject.String(), e.Time, e.Actor, reqctx.RequestID(ctx), e.Data); err != nil {
			return nil, err
		}
	}
	return out, nil
}
