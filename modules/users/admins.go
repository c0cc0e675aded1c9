package users

import (
	"context"

	"github.com/acme/userservice/modules/users/service"
)

// Admins creates admin accounts. It is for trusted operators (the admin CLI runs it against
// the database directly); the HTTP API has no way to create an admin.
type Admins struct {
	svc *service.Service
}

// NewAdmins returns Admins on the users service.
func NewAdmins(svc *service.Service) *Admins { return &Admins{svc: svc} }

// Create creates an active admin and returns a line describing it. Invalid input and a taken
// email or username are errors whose message is one line fit for a terminal.
func (a *Admins) Create(ctx context.Context, username, email, password string) (string, error) {
	u, err := a.svc.CreateAdmin(ctx, service.RegisterInput{Username: username, Email: email, Password: password})
	if err != nil {
		return "", err
	}
	return "created admin " + u.Username() + " (" + u.ID().String() + ")", nil
}
