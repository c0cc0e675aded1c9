package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/identity"
)

// Accounts is the module's implementation of identity.Accounts: how every other module learns
// whether the subject of a verified token may act, and with which role.
type Accounts struct {
	svc *service.Service
}

var _ identity.Accounts = (*Accounts)(nil)

// NewAccounts returns Accounts on the users service.
func NewAccounts(svc *service.Service) *Accounts { return &Accounts{svc: svc} }

// Caller reads the account and session of c now: a deactivated or deleted account, or a
// revoked session, is refused at once.
func (a *Accounts) Caller(ctx context.Context, c identity.Credential) (identity.Caller, error) {
	u, err := a.svc.Caller(ctx, ports.Credential{UserID: c.Subject, SessionID: c.Session})
	if errors.Is(err, service.ErrUnauthenticated) {
		return identity.Caller{}, fmt.Errorf("%w: %w", identity.ErrUnauthenticated, err)
	}
	if err != nil {
		return identity.Caller{}, err
	}
	return identity.Caller{ID: u.ID(), Role: identity.Role(u.Role())}, nil
}

// Directory is the module's implementation of identity.Directory: what the notifications
// module reads of accounts and does to them, through this module's use cases and events.
type Directory struct {
	svc *service.Service
}

var _ identity.Directory = (*Directory)(nil)

// NewDirectory returns Directory on the users service.
func NewDirectory(svc *service.Service) *Directory { return &Directory{svc: svc} }

// Account returns the account with the id.
func (d *Directory) Account(ctx context.Context, id uuid.UUID) (identity.Account, error) {
	return accountOf(d.svc.Users.Get(ctx, id))
}

// Accounts returns the accounts of the ids that have one: in one read when the repository can
// (ports.UsersReader), else one at a time.
func (d *Directory) Accounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]identity.Account, error) {
	out := make(map[uuid.UUID]identity.Account, len(ids))
	if r, ok := d.svc.Users.(ports.UsersReader); ok {
		us, err := r.GetMany(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			out[u.ID()], _ = accountOf(u, nil)
		}
		return out, nil
	}
	for _, id := range ids {
		a, err := accountOf(d.svc.Users.Get(ctx, id))
		if errors.Is(err, identity.ErrNoAccount) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = a
	}
	return out, nil
}

// AccountByEmail returns the account with the email, without regard to case.
func (d *Directory) AccountByEmail(ctx context.Context, email string) (identity.Account, error) {
	return accountOf(d.svc.Users.GetByEmail(ctx, email))
}

func accountOf(u *domain.User, err error) (identity.Account, error) {
	if errors.As(err, new(*domain.NotFoundError)) {
		return identity.Account{}, fmt.Errorf("%w: %w", identity.ErrNoAccount, err)
	}
	if err != nil {
		return identity.Account{}, err
	}
	return identity.Account{
		ID: u.ID(), Username: u.Username(), Email: u.Email(),
		CanReceiveEmail: u.CanReceiveEmail(), EmailVerified: u.EmailVerified(),
	}, nil
}

// VerifyEmail marks the email verified if it is still email.
func (d *Directory) VerifyEmail(ctx context.Context, id uuid.UUID, email string) error {
	_, err := d.svc.VerifyEmail(ctx, id, email)
	return directoryError(err)
}

// ResetPassword sets a new password proven by a mail to email, and ends every session.
func (d *Directory) ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error {
	return directoryError(d.svc.ResetPassword(ctx, id, email, password))
}

// directoryError says the module's errors in identity's words.
func directoryError(err error) error {
	var invalid *domain.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*domain.NotFoundError)):
		return fmt.Errorf("%w: %w", identity.ErrNoAccount, err)
	case errors.Is(err, service.ErrEmailChanged):
		return fmt.Errorf("%w: %w", identity.ErrEmailChanged, err)
	case errors.Is(err, service.ErrDeactivated):
		return fmt.Errorf("%w: %w", identity.ErrDeactivated, err)
	case errors.As(err, &invalid) && len(invalid.Fields) == 1:
		return &identity.PasswordError{Message: invalid.Fields[0].Message}
	}
	return err
}
