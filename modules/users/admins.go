package users

import (
	"context"

	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/identity"
)

// Admins creates admin accounts: the module's implementation of identity.Admins. It is for
// trusted operators (the admin command runs it against the database directly, the test kit in
// process); the HTTP API has no way to create an admin.
type Admins struct {
	svc *service.Service
}

var _ identity.Admins = (*Admins)(nil)

// NewAdmins returns Admins on the users service.
func NewAdmins(svc *service.Service) *Admins { return &Admins{svc: svc} }

// CreateAdmin creates an active admin.
func (a *Admins) CreateAdmin(ctx context.Context, username, email, password string) (identity.Caller, error) {
	u, err := a.svc.CreateAdmin(ctx, service.RegisterInput{Username: username, Email: email, Password: password})
	if err != nil {
		return identity.Caller{}, err
	}
	return identity.Caller{ID: u.ID(), Role: identity.Role(u.Role())}, nil
}
