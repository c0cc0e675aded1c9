package domain

import "github.com/google/uuid"

// The users module's events: their types (the version is part of the type) and payloads. Other
// modules decode the payloads with their own types, so a payload only ever gains fields; a
// change that removes or redefines one is a new version. No payload carries a secret (a
// password, its hash or a token). The README's event catalogue documents them.
const (
	EventRegistered      = "userservice.user.registered.v1"
	EventUpdated         = "userservice.user.updated.v1"
	EventDeactivated     = "userservice.user.deactivated.v1"
	EventActivated       = "userservice.user.activated.v1"
	EventRoleChanged     = "userservice.user.role_changed.v1"
	EventPasswordChanged = "userservice.user.password_changed.v1"
	EventDeleted         = "userservice.user.deleted.v1"
	EventEmailVerified   = "userservice.user.email_verified.v1"
	EventPasswordReset   = "userservice.user.password_reset.v1"
	EventSessionCreated  = "userservice.session.created.v1"
	EventSessionRevoked  = "userservice.session.revoked.v1"
)

// Registered is the payload of EventRegistered: the new account.
type Registered struct {
	UserID   uuid.UUID `json:"user_id"`
	Username string    `json:"username"`
	Email    string    `json:"email"`
	Role     Role      `json:"role"`
	IsActive bool      `json:"is_active"`
}

// Updated is the payload of EventUpdated: the names of the fields that changed (username,
// email) and their new values.
type Updated struct {
	UserID   uuid.UUID `json:"user_id"`
	Changed  []string  `json:"changed"`
	Username string    `json:"username,omitempty"`
	Email    string    `json:"email,omitempty"`
}

// RoleChanged is the payload of EventRoleChanged.
type RoleChanged struct {
	UserID uuid.UUID `json:"user_id"`
	From   Role      `json:"from"`
	To     Role      `json:"to"`
}

// UserRef is the payload of the events that need nothing but the user: deactivated,
// activated, password changed, password reset, deleted.
type UserRef struct {
	UserID uuid.UUID `json:"user_id"`
}

// EmailVerified is the payload of EventEmailVerified: the address that was proven.
type EmailVerified struct {
	UserID uuid.UUID `json:"user_id"`
	Email  string    `json:"email"`
}

// SessionCreated is the payload of EventSessionCreated: a login, and the device it came from.
type SessionCreated struct {
	UserID     uuid.UUID `json:"user_id"`
	SessionID  uuid.UUID `json:"session_id"`
	UserAgent  string    `json:"user_agent"`
	ClientAddr string    `json:"client_addr"`
}

// SessionRevoked is the payload of EventSessionRevoked; Reason is one of the Revoked*
// constants. A user's deletion ends their sessions without an event of its own: the deleted
// event says it.
type SessionRevoked struct {
	UserID    uuid.UUID `json:"user_id"`
	SessionID uuid.UUID `json:"session_id"`
	Reason    string    `json:"reason"`
}
