// Package identity is what every module may know about who calls, without importing the module
// that owns accounts. The platform verifies the bearer token of a protected operation and keeps
// its subject in the request's context; the users module implements Accounts, which says at
// every request whether that subject may still act, and with which rights. A module's handler
// asks Resolver.Caller: a deactivated or deleted account is refused at its next request, in
// every module.
//
// The package also carries the other seams between the users module and the rest: Admins
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
	// Caller returns the caller whose verified token says c, read now: it fails with an error
	// wrapping ErrUnauthenticated when the account is gone or deactivated, or the token's
	// session was revoked or has expired.
	Caller(ctx context.Context, c Credential) (Caller, error)
}

// ErrNoAccount means no account has the id or email asked for.
var ErrNoAccount = errors.New("no such account")

// ErrEmailChanged means the account's email is no longer the one a proof was sent to: the
// proof is void.
var ErrEmailChanged = errors.New("the account's email changed since")

// ErrDeactivated means the account is deactivated: a proof mailed to it does nothing, so that
// whoever holds an old link cannot set the password that an admin's reactivation would revive.
var ErrDeactivated = errors.New("the account is deactivated")

// PasswordError says why a new password breaks the rules; Message completes "password …".
type PasswordError struct {
	Message string
}

// Error implements error.
func (e *PasswordError) Error() string { return "password " + e.Message }

// Account is what other modules may read of an account.
type Account struct {
	ID       uuid.UUID
	Username string
	Email    string
	// CanReceiveEmail says whether mail may be sent to the account (the domain's rule: it is
	// active).
	CanReceiveEmail bool
	EmailVerified   bool
}

// Directory is implemented by the module that owns accounts, for the modules that act on them
// from outside (notifications: verification and recovery by email). Every change it makes is
// that module's, with its events.
type Directory interface {
	// Account returns the account with the id, or ErrNoAccount.
	Account(ctx context.Context, id uuid.UUID) (Account, error)
	// Accounts returns the accounts of those ids that have one, by id: a batch's accounts in
	// one read where the storage allows it.
	Accounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Account, error)
	// AccountByEmail returns the account with the email (without regard to case), or
	// ErrNoAccount.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// VerifyEmail marks the account's email verified, provided it is still email (the address
	// the proof was sent to): ErrEmailChanged otherwise, ErrDeactivated for a deactivated one.
	VerifyEmail(ctx context.Context, id uuid.UUID, email string) error
	// ResetPassword sets the password of an account whose owner proved they receive mail at
	// email, marks that email verified and ends every session of the account. A password that
	// breaks the rules is a *PasswordError, a changed email ErrEmailChanged, a deactivated
	// account ErrDeactivated.
	ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error
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
// AsUserDeleted); the users module runs every one before it deletes the account, so a
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

// Credential is what the request's verified access token says: whose it is, and the session
// (the login) it was issued in. Whether that account may still act, and whether that session
// still exists, is for Accounts to say.
type Credential struct {
	Subject uuid.UUID
	Session uuid.UUID
}

type credentialKey struct{}

// WithCredential returns ctx carrying c, what a verified token says.
func WithCredential(ctx context.Context, c Credential) context.Context {
	return context.WithValue(ctx, credentialKey{}, c)
}

// CredentialFrom returns what the request's verified token says, without reading the account:
// for a use case that reads the account together with its own data. The generated server
// verifies the token before every protected operation, so a missing credential is a wiring
// bug, answered as unauthenticated rather than as a zero id that a policy might misread.
func CredentialFrom(ctx context.Context) (Credential, error) {
	c, ok := ctx.Value(credentialKey{}).(Credential)
	if !ok {
		return Credential{}, ErrUnauthenticated
	}
	return c, nil
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

// NewResolver returns a resolver over the users module's Accounts.
func NewResolver(p ResolverParams) *Resolver { return &Resolver{accounts: p.Accounts} }

// Caller returns the authenticated caller of the request in ctx, reading their account now.
func (r *Resolver) Caller(ctx context.Context) (Caller, error) {
	c, err := CredentialFrom(ctx)
	if err != nil {
		return Caller{}, err
	}
	if r.accounts == nil {
		return Caller{}, errors.Join(ErrUnauthenticated, errors.New("no module owns accounts"))
	}
	return r.accounts.Caller(ctx, c)
}

// Module provides the Resolver.
var Module = fx.Module("identity", fx.Provide(NewResolver))
