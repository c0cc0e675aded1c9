// Package identity is what every module may know about who calls, without importing the module
// that owns accounts. The platform verifies the bearer token of a protected operation and keeps
// its subject in the request's context; the accounts module implements Accounts, which says at
// every request whether that subject may still act, and with which rights. A module's handler
// asks Resolver.Caller: a deactivated or deleted account is refused at its next request, in
// every module.
//
// The package also carries the other seams between the accounts module and the rest: Admins
// (creating admins for trusted operators) and the "user_deleted" hook group.
package identity

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"go.uber.org/fx"
)

// ErrUnauthenticated means the request has no verified caller, or one whose account may no
// longer act. The platform answers it with 401 and WWW-Authenticate: Bearer; the reason stays
// in the wrapped error, never in the answer.
var ErrUnauthenticated = errors.New("not authenticated")

// Role names what a caller may do.
type Role string

// The roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Caller is an authenticated caller whose account exists and is active.
type Caller struct {
	ID   uuid.UUID
	Role Role
}

// IsAdmin reports whether the caller is an admin.
func (c Caller) IsAdmin() bool { return c.Role == RoleAdmin }

// Accounts is implemented by the module that owns accounts (users).
type Accounts interface {
	// Caller returns the caller whose verified token names id, read now: it fails with an
	// error wrapping ErrUnauthenticated when the account is gone or deactivated.
	Caller(ctx context.Context, id uuid.UUID) (Caller, error)
}

// Admins creates admins, for trusted operators: the admin command and the test kit. It is
// implemented by the module that owns accounts.
type Admins interface {
	// CreateAdmin creates an active admin. Invalid input and a taken email or username are
	// errors whose message is one line fit for a terminal.
	CreateAdmin(ctx context.Context, username, email, password string) (Caller, error)
}

// UserDeleted is a module's reaction to the deletion of a user: it removes or scrubs what the
// module holds about them. Modules add theirs to the "user_deleted" fx group (see
// AsUserDeleted); the accounts module runs every one before it deletes the account, so a
// failing hook fails the deletion and a retry runs them all again: they must be idempotent.
type UserDeleted struct {
	// Module names the module, for errors and logs.
	Module string
	// Run removes what the module holds about the user.
	Run func(ctx context.Context, userID uuid.UUID) error
}

// AsUserDeleted annotates a constructor of a UserDeleted for the "user_deleted" group.
func AsUserDeleted(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"user_deleted"`))
}

type subjectKey struct{}

// WithSubject returns ctx carrying id, the subject of a verified token.
func WithSubject(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, subjectKey{}, id)
}

// Subject returns the subject of the request's verified token, without reading the account:
// for a use case that reads the account together with its own data. The generated server
// verifies the token before every protected operation, so a missing subject is a wiring bug,
// answered as unauthenticated rather than as a zero id that a policy might misread.
func Subject(ctx context.Context) (uuid.UUID, error) {
	id, ok := ctx.Value(subjectKey{}).(uuid.UUID)
	if !ok {
		return uuid.Nil, ErrUnauthenticated
	}
	return id, nil
}

// Resolver answers "who calls" for every module's handlers.
type Resolver struct {
	accounts Accounts
}

// ResolverParams are the inputs of NewResolver. Accounts is optional: without the module that
// owns accounts nobody is authenticated, and the service still starts.
type ResolverParams struct {
	fx.In
	Accounts Accounts `optional:"true"`
}

// NewResolver returns a resolver over the accounts module's Accounts.
func NewResolver(p ResolverParams) *Resolver { return &Resolver{accounts: p.Accounts} }

// Caller returns the authenticated caller of the request in ctx, reading their account now.
func (r *Resolver) Caller(ctx context.Context) (Caller, error) {
	id, err := Subject(ctx)
	if err != nil {
		return Caller{}, err
	}
	if r.accounts == nil {
		return Caller{}, errors.Join(ErrUnauthenticated, errors.New("no module owns accounts"))
	}
	return r.accounts.Caller(ctx, id)
}

// Module provides the Resolver.
var Module = fx.Module("identity", fx.Provide(NewResolver))
