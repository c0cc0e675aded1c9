package domain

import (
	"errors"

	"github.com/google/uuid"
)

// Actor is who asks for a use case: an authenticated user, with the role they have now.
type Actor struct {
	ID   uuid.UUID
	Role Role
}

// Actor returns the user as the actor of a use case, with the role they have now.
func (u *User) Actor() Actor { return Actor{ID: u.id, Role: u.role} }

// IsAdmin reports whether the actor has the admin role.
func (a Actor) IsAdmin() bool { return a.Role == RoleAdmin }

// ErrForbidden is returned when the actor may not do what they asked.
var ErrForbidden = errors.New("forbidden")

// Action names something an actor may be allowed to do to a user.
type Action string

// The actions the policy rules on.
const (
	ActionRead       Action = "read"
	ActionUpdate     Action = "update"
	ActionDeactivate Action = "deactivate"
	ActionActivate   Action = "activate"
	ActionDelete     Action = "delete"
	ActionList       Action = "list"
	ActionChangeRole Action = "change the role of"
	// ActionRevokeSessions ends every session of another user (a user ends their own through
	// their own sessions, with no rule to pass).
	ActionRevokeSessions Action = "revoke the sessions of"
	// ActionVerifyEmail marks a user's email verified without the proof a mail would give.
	ActionVerifyEmail Action = "mark verified the email of"
)

// ForbiddenError says which action the actor may not take; it matches ErrForbidden.
type ForbiddenError struct {
	Action Action
}

// Error implements error.
func (e *ForbiddenError) Error() string {
	if e.Action == ActionList {
		return "Only admins may list users"
	}
	return "You may not " + string(e.Action) + " this user"
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Authorize decides whether actor may take action on the user with id target (uuid.Nil for
// actions on no particular user, such as listing). Users act on themselves for reading,
// updating and deactivating; everything else, and anything on another user, is for admins.
func Authorize(actor Actor, action Action, target uuid.UUID) error {
	if actor.IsAdmin() {
		return nil
	}
	switch action {
	case ActionRead, ActionUpdate, ActionDeactivate:
		if target != uuid.Nil && target == actor.ID {
			return nil
		}
	default: // every other action is for admins only, even on oneself
	}
	return &ForbiddenError{Action: action}
}

// AuthorizeChanges decides whether actor may apply c to the user with id target: updating the
// user at all, and changing the role, which only admins may do (no escalation through PATCH).
func AuthorizeChanges(actor Actor, target uuid.UUID, c Changes) error {
	if err := Authorize(actor, ActionUpdate, target); err != nil {
		return err
	}
	if c.Role != nil {
		return Authorize(actor, ActionChangeRole, target)
	}
	return nil
}

// IsActiveAdmin reports whether the user administers the service now: an admin, active.
func (u *User) IsActiveAdmin() bool { return u.active && u.role == RoleAdmin }

// AdminLoss says how a change took an active admin away: ActionDeactivate when before was an
// active admin and after is inactive, ActionChangeRole when after is active but no longer an
// admin; "" when before was no active admin or after still is one.
func AdminLoss(before Snapshot, after *User) Action {
	switch {
	case !before.Active || before.Role != RoleAdmin || after.IsActiveAdmin():
		return ""
	case !after.IsActive():
		return ActionDeactivate
	default:
		return ActionChangeRole
	}
}

// LastAdminError says a change would leave the service with no active admin: then nobody
// could administer it but an operator with the command line and the database. The rule holds
// for an admin's change of themself (the usual case) as of anyone else.
type LastAdminError struct {
	// Action is what was refused: ActionChangeRole, ActionDeactivate or ActionDelete.
	Action Action
}

// Error implements error: the reason, and what to do instead.
func (e *LastAdminError) Error() string {
	verb := map[Action]string{ActionChangeRole: "demoted", ActionDeactivate: "deactivated", ActionDelete: "deleted"}[e.Action]
	if verb == "" {
		verb = "removed"
	}
	return "The last active admin cannot be " + verb + ": make another user an admin first"
}
