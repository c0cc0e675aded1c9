package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/modules/users/service"
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
