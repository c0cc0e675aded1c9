// Package events is the users module's published language: the types of the events it
// publishes (the version is part of the type) and their payloads. It is the one package of the
// module that another module may import, to subscribe to these events and decode them.
//
// A payload only ever gains fields; a change that removes or redefines one is a new version.
// No payload carries a secret (a password, its hash or a token). docs/events.md is the
// catalogue.
package events

import "github.com/google/uuid"

// The event types the users module publishes.
const (
	TypeRegistered      = "userservice.user.registered.v1"
	TypeUpdated         = "userservice.user.updated.v1"
	TypeDeactivated     = "userservice.user.deactivated.v1"
	TypeActivated       = "userservice.user.activated.v1"
	TypeRoleChanged     = "userservice.user.role_changed.v1"
	TypePasswordChanged = "userservice.user.password_changed.v1"
	TypeDeleted         = "userservice.user.deleted.v1"
	TypeEmailVerified   = "userservice.user.email_verified.v1"
	TypePasswordReset   = "userservice.user.password_reset.v1"
	TypeSessionCreated  = "userservice.session.created.v1"
	TypeSessionRevoked  = "userservice.session.revoked.v1"
)

// Registered is the payload of TypeRegistered: the new account. Role is "user" or "admin".
type Registered struct {
	UserID   uuid.UUID `json:"user_id"`
	Username string    `json:"username"`
	Email    string    `json:"email"`
	Role     string    `json:"role"`
	IsActive bool      `json:"is_active"`
}

// Updated is the payload of TypeUpdated: the names of the fields that changed (username,
// email) and their new values.
type Updated struct {
	UserID   uuid.UUID `json:"user_id"`
	Changed  []string  `json:"changed"`
	Username string    `json:"username,omitempty"`
	Email    string    `json:"email,omitempty"`
}

// RoleChanged is the payload of TypeRoleChanged.
type RoleChanged struct {
	UserID uuid.UUID `json:"user_id"`
	From   string    `json:"from"`
	To     string    `json:"to"`
}

// UserRef is the payload of the events that need nothing but the user: deactivated,
// activated, password changed, password reset, deleted.
type UserRef struct {
	UserID uuid.UUID `json:"user_id"`
}

// EmailVerified is the payload of TypeEmailVerified: the address that was proven.
type EmailVerified struct {
	UserID uuid.UUID `json:"user_id"`
	Email  string    `json:"email"`
}

// SessionCreated is the payload of TypeSessionCreated: a login, and the device it came from.
type SessionCreated struct {
	UserID     uuid.UUID `json:"user_id"`
	SessionID  uuid.UUID `json:"session_id"`
	UserAgent  string    `json:"user_agent"`
	ClientAddr string    `json:"client_addr"`
}

// SessionRevoked is the payload of TypeSessionRevoked; Reason is one of the Revoked*
// constants. A user's deletion ends their sessions without an event of its own: the deleted
// event says it.
type SessionRevoked struct {
	UserID    uuid.UUID `json:"user_id"`
	SessionID uuid.UUID `json:"session_id"`
	Reason    string    `json:"reason"`
}

// Why a session was revoked: the reason its revoked event gives.
const (
	RevokedLogout          = "logout"
	RevokedByUser          = "revoked"
	RevokedByAdmin         = "admin"
	RevokedReuse           = "refresh_token_reuse"
	RevokedPasswordChanged = "password_changed"
	RevokedPasswordReset   = "password_reset"
	RevokedDeactivated     = "deactivated"
)
