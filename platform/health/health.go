// Package health implements the System operation group of openapi.yaml: GET /health (the
// tutorial's), GET /livez (the process is up) and GET /readyz (every dependency check
// passes). Checks are contributed by whoever owns a dependency, through the "health_checks" fx
// value group; this package names none of them.
package health

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Module provides the oas.SystemHandler.
var Module = fx.Module("health",
	fx.Provide(fx.Annotate(New, fx.As(new(oas.SystemHandler)))),
)

// Check is one readiness check.
type Check struct {
	// Name appears in the 503 problem when the check fails.
	Name string
	// Run returns nil when the dependency is usable.
	Run func(context.Context) error
}

// Timeout bounds a whole readiness probe: a dependency that does not answer in time is down.
const Timeout = 2 * time.Second

// Handler answers the System operations.
type Handler struct {
	checks []Check
}

var _ oas.SystemHandler = (*Handler)(nil)

// Params are the checks New runs for readiness.
type Params struct {
	fx.In
	Checks []Check `group:"health_checks"`
}

// New returns the health handler.
func New(p Params) *Handler { return &Handler{checks: p.Checks} }

// GetHealth reports the service healthy: if this runs, the process is serving.
func (h *Handler) GetHealth(context.Context) (*oas.Health, error) {
	return &oas.Health{Status: oas.HealthStatusHealthy}, nil
}

// GetLiveness reports the process up; it never touches a dependency, so a database outage
// does not get the process restarted.
func (h *Handler) GetLiveness(context.Context) (*oas.Status, error) {
	return &oas.Status{Status: oas.StatusStatusOk}, nil
}

// GetReadiness runs every check concurrently within Timeout; any failure is a 503 naming the
// failed checks.
func (h *Handler) GetReadiness(ctx context.Context) (oas.GetReadinessRes, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	for _, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				mu.Lock()
				failed = append(failed, c.Name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		slices.Sort(failed)
		return nil, problem.New(http.StatusServiceUnavailable,
			fmt.Sprintf("Not ready: %s failed.", strings.Join(failed, ", ")))
	}
	return &oas.Status{Status: oas.StatusStatusOk}, nil
}
