// Package events is the notifications module's published language: the types of the events
// it publishes and their payloads. It is the one package of the module that another module may
// import. Payloads only ever gain fields; none carries a token or a link.
package events

import (
	"time"

	"github.com/google/uuid"
)

// The event types the notifications module publishes.
const (
	TypeVerificationSent       = "userservice.notifications.verification_sent.v1"
	TypePasswordResetRequested = "userservice.notifications.password_reset_requested.v1"
	TypePasswordResetSent      = "userservice.notifications.password_reset_sent.v1"
)

// Sent is the payload of the sent events: to whom, and until when the link works.
type Sent struct {
	UserID    uuid.UUID `json:"user_id"`
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ResetRequested is the payload of TypePasswordResetRequested. It is recorded only for an
// account that gets the mail; a request for an unknown address leaves no trace.
type ResetRequested struct {
	UserID uuid.UUID `json:"user_id"`
}
