// Package oas is the service's HTTP contract in Go, server and client: ogen generates it from
// openapi.yaml (make generate), all but this file.
package oas

import (
	"context"

	"github.com/ogen-go/ogen/ogenerrors"
)

// This file is written by hand: ogen generates the rest of the package (oas_*_gen.go) and
// leaves other files alone.

// StaticToken is the SecuritySource of a client that presents one bearer token, such as the
// access token CreateToken returned, on every operation that asks for one. The empty token
// presents none: a client for the public operations (RegisterUser, CreateToken).
//
//	c, err := oas.NewClient("https://users.example.com", oas.StaticToken(accessToken))
type StaticToken string

// BearerAuth implements SecuritySource.
func (t StaticToken) BearerAuth(context.Context, OperationName) (BearerAuth, error) {
	if t == "" {
		return BearerAuth{}, ogenerrors.ErrSkipClientSecurity
	}
	return BearerAuth{Token: string(t)}, nil
}
