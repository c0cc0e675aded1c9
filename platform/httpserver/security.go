package httpserver

import (
	"context"
	"fmt"

	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/token"
)

// BearerAuth is the generated server's SecurityHandler: it verifies the bearer token of every
// protected operation (signature, algorithm, issuer, expiry) and keeps what it says (subject
// and session) in the request's context for identity.Resolver. It reads nothing: whether the
// account and the session may still act is checked by the operation, through identity, so that
// a use case can read the account together with its own data.
type BearerAuth struct {
	tokens *token.Signer
}

var _ oas.SecurityHandler = (*BearerAuth)(nil)

// NewBearerAuth returns the security handler verifying tokens with tokens.
func NewBearerAuth(tokens *token.Signer) *BearerAuth { return &BearerAuth{tokens: tokens} }

// HandleBearerAuth verifies t and records its subject and session.
func (b *BearerAuth) HandleBearerAuth(ctx context.Context, _ oas.OperationName, t oas.BearerAuth) (context.Context, error) {
	v, err := b.tokens.Verify(t.Token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", identity.ErrUnauthenticated, err)
	}
	return identity.WithCredential(ctx, identity.Credential{Subject: v.Subject, Session: v.Session}), nil
}
