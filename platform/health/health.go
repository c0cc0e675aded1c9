// Package health implements the System operation group of openapi.yaml: GET /health answers as
// long as the process serves HTTP.
package health

import (
	"context"

	"go.uber.org/fx"

	"github.com/acme/userservice/platform/oas"
)

// Module provides the oas.SystemHandler.
var Module = fx.Module("health",
	fx.Provide(fx.Annotate(New, fx.As(new(oas.SystemHandler)))),
)

// Handler answers the System operations.
type Handler struct{}

var _ oas.SystemHandler = Handler{}

// New returns the health handler.
func New() Handler { return Handler{} }

// GetHealth reports the service healthy: if this runs, the process is serving.
func (Handler) GetHealth(context.Context) (*oas.Health, error) {
	return &oas.Health{Status: oas.HealthStatusHealthy}, nil
}
