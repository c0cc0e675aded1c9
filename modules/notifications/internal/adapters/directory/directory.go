// Package directory adapts the platform's identity.Directory, which the users module
// implements, to the notifications module's Accounts port, translating its errors into the
// port's.
package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/identity"
)

// Accounts is the platform's identity.Directory in the words of the module's ports.
type Accounts struct{ dir identity.Directory }

// New returns the accounts of dir.
func New(dir identity.Directory) Accounts { return Accounts{dir: dir} }

// Account implements ports.Accounts.
func (a Accounts) Account(ctx context.Context, id uuid.UUID) (ports.Account, error) {
	return account(a.dir.Account(ctx, id))
}

// Accounts implements ports.Accounts.
func (a Accounts) Accounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]ports.Account, error) {
	got, err := a.dir.Accounts(ctx, ids)
	if err != nil {
		return nil, portError(err)
	}
	out := make(map[uuid.UUID]ports.Account, len(got))
	for id, x := range got {
		out[id], _ = account(x, nil)
	}
	return out, nil
}

// AccountByEmail implements ports.Accounts.
func (a Accounts) AccountByEmail(ctx context.Context, email string) (ports.Account, error) {
	return account(a.dir.AccountByEmail(ctx, email))
}

// VerifyEmail implements ports.Accounts.
func (a Accounts) VerifyEmail(ctx context.Context, id uuid.UUID, email string) error {
	return portError(a.dir.VerifyEmail(ctx, id, email))
}

// ResetPassword implements ports.Accounts.
func (a Accounts) ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error {
	return portError(a.dir.ResetPassword(ctx, id, email, password))
}

func account(a identity.Account, err error) (ports.Account, error) {
	if err != nil {
		return ports.Account{}, portError(err)
	}
	return ports.Account{ID: a.ID, Username: a.Username, Email: a.Email, CanReceiveEmail: a.CanReceiveEmail, EmailVerified: a.EmailVerified}, nil
}

func portError(err error) error {
	var pe *identity.PasswordError
	switch {
	case errors.Is(err, identity.ErrNoAccount):
		return fmt.Errorf("%w: %w", ports.ErrNoAccount, err)
	case errors.Is(err, identity.ErrEmailChanged):
		return fmt.Errorf("%w: %w", ports.ErrEmailChanged, err)
	case errors.Is(err, identity.ErrDeactivated):
		return fmt.Errorf("%w: %w", ports.ErrDeactivated, err)
	case errors.As(err, &pe):
		return &ports.PasswordError{Message: pe.Message}
	}
	return err
}
