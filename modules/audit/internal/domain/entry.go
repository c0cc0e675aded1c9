// Package domain is the audit module's model: an entry of the audit trail, and the rule of
// what it records of each user event (the names of the fields that changed, never a value).
// It imports only the standard library, uuid and the event types other modules publish.
package domain

import (
	"errors"
	"time"

	"github.com/google/uuid"

	notifevents "github.com/acme/userservice/modules/notifications/events"
	userevents "github.com/acme/userservice/modules/users/events"
)

// Entry is one line of the audit trail: who (Actor) did what (Type) to whom (Target), when, in
// which request, changing which fields.
type Entry struct {
	EventID    uuid.UUID
	Type       string
	Actor      string
	Target     uuid.UUID
	RequestID  string
	Changed    []string
	OccurredAt time.Time
}

// The user events the trail records, and the fields each one changes. An updated event names
// its changed fields itself.
var changes = map[string][]string{
	userevents.TypeRegistered:      {"username", "email", "role", "is_active"},
	userevents.TypeUpdated:         nil,
	userevents.TypeRoleChanged:     {"role"},
	userevents.TypeDeactivated:     {"is_active"},
	userevents.TypeActivated:       {"is_active"},
	userevents.TypePasswordChanged: {"password"},
	userevents.TypeDeleted:         {},
	userevents.TypeEmailVerified:   {"email_verified"},
	userevents.TypeSessionCreated:  {},
	userevents.TypeSessionRevoked:  {},
	userevents.TypePasswordReset:   {"password"},
	// The notifications module's: mails that prove an address.
	notifevents.TypeVerificationSent:       {},
	notifevents.TypePasswordResetRequested: {},
	notifevents.TypePasswordResetSent:      {},
}

// Types are the event types the trail records.
func Types() []string {
	types := make([]string, 0, len(changes))
	for t := range changes {
		types = append(types, t)
	}
	return types
}

// ErrNotAudited is returned by NewEntry for an event type the trail does not record.
var ErrNotAudited = errors.New("not an audited event type")

// NewEntry returns the entry of a user event; updated names the fields an updated event says
// changed.
func NewEntry(eventID uuid.UUID, typ, actor string, target uuid.UUID, requestID string, updated []string, at time.Time) (Entry, error) {
	changed, ok := changes[typ]
	if !ok {
		return Entry{}, ErrNotAudited
	}
	if changed == nil {
		changed = updated
	}
	return Entry{
		EventID: eventID, Type: typ, Actor: actor, Target: target, RequestID: requestID,
		Changed: append([]string{}, changed...), OccurredAt: at.UTC().Truncate(time.Microsecond),
	}, nil
}

// ErrForbidden is returned to a caller who is not an admin: only admins read the trail.
var ErrForbidden = errors.New("only admins may read the audit trail")
