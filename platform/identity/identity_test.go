package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/acme/userservice/platform/identity"
)

// accounts is a directory of active accounts; every other id is gone.
type accounts map[uuid.UUID]identity.Role

func (a accounts) Caller(_ context.Context, c identity.Credential) (identity.Caller, error) {
	role, ok := a[c.Subject]
	if !ok {
		return identity.Caller{}, identity.ErrUnauthenticated
	}
	return identity.Caller{ID: c.Subject, Role: role}, nil
}

// as returns a context carrying a verified token of id.
func as(id uuid.UUID) context.Context {
	return identity.WithCredential(context.Background(), identity.Credential{Subject: id, Session: uuid.New()})
}

func TestResolver(t *testing.T) {
	t.Parallel()
	admin, user := uuid.New(), uuid.New()
	dir := accounts{admin: identity.RoleAdmin, user: identity.RoleUser}
	tests := []struct {
		name      string
		accounts  identity.Accounts
		ctx       context.Context
		want      identity.Caller
		wantAdmin bool
		wantErr   bool
	}{
		{"an admin", dir, as(admin), identity.Caller{ID: admin, Role: identity.RoleAdmin}, true, false},
		{"a user", dir, as(user), identity.Caller{ID: user, Role: identity.RoleUser}, false, false},
		{"a gone account", dir, as(uuid.New()), identity.Caller{}, false, true},
		{"no verified token", dir, context.Background(), identity.Caller{}, false, true},
		{"no module owns accounts", nil, as(user), identity.Caller{}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := identity.NewResolver(identity.ResolverParams{Accounts: tc.accounts})
			got, err := r.Caller(tc.ctx)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, identity.ErrUnauthenticated)) {
				t.Fatalf("error %v, want unauthenticated: %v", err, tc.wantErr)
			}
			if got != tc.want || got.IsAdmin() != tc.wantAdmin {
				t.Fatalf("got %+v", got)
			}
		})
	}
}
