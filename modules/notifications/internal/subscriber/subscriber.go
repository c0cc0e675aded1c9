// Package subscriber turns the users module's events into the notifications service's work:
// a registration or a new address asks for a verification mail. It reads the events by the
// payloads the users module publishes (modules/users/events).
package subscriber

import (
	"context"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	userevents "github.com/acme/userservice/modules/users/events"

	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/events"
)

// Handler is the name under which the subscription's processed events are recorded.
const Handler = "notifications.verification"

// New asks for a verification mail when a user registers and when an address changes. The
// asks dropped because their recipient had too many (service.MailsPerRecipient) are logged and
// counted in notifications_verifications_throttled_total.
func New(svc *service.Service, log *zap.Logger, reg prometheus.Registerer) (events.Subscription, error) {
	throttled := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "notifications_verifications_throttled_total",
		Help: "Verification mails not sent because their recipient address had too many within the hour (a mail cannon aimed at a mailbox).",
	})
	if err := reg.Register(throttled); err != nil {
		return events.Subscription{}, err
	}
	h := handler{svc: svc, log: log.Named("mail"), throttled: throttled}
	return events.Subscription{
		Handler: Handler,
		Types:   []string{userevents.TypeRegistered, userevents.TypeUpdated},
		Handle: func(ctx context.Context, e events.Event) error {
			return h.handleBatch(ctx, []events.Event{e})
		},
		// A relay's batch in one transaction: the jobs keep up with registrations.
		HandleBatch: h.handleBatch,
	}, nil
}

type handler struct {
	svc       *service.Service
	log       *zap.Logger
	throttled prometheus.Counter
}

func (h handler) handleBatch(ctx context.Context, evs []events.Event) error {
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
	throttled, err := h.svc.AskVerification(ctx, Handler, asks...)
	for _, a := range throttled {
		// Not the address: the log is no place for it, and the user id finds it.
		h.log.Warn("verification mail dropped: its recipient had too many within the hour",
			zap.Stringer("user_id", a.UserID), zap.Stringer("event_id", a.EventID), zap.String("request_id", a.RequestID))
	}
	h.throttled.Add(float64(len(throttled)))
	return err
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
