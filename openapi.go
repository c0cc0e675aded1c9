// Package userservice holds the service's HTTP contract, openapi.yaml, for the binary to serve
// (GET /openapi.yaml, /openapi.json and the /docs page read it). The code is under cmd/,
// modules/ and platform/.
package userservice

import _ "embed" // the contract, embedded

// OpenAPI is openapi.yaml, the contract make generate bundles from the platform's and the
// modules' parts.
//
//go:embed openapi.yaml
var OpenAPI []byte
