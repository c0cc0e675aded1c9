package logging

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Dependency logs whether a dependency of one component (a background loop, an adapter) is
// reachable, on transitions only: one warning "<dependency> unreachable" at the first failure
// after it was reachable, and one "<dependency> reachable again" at the first success after
// failures, with how long it was away and how many failures there were. The failures in
// between are logged at debug level. A loop that retries every second would otherwise write a
// warning a second for as long as an outage lasts, burying what happened in what kept on
// happening. It is safe for concurrent use (the workers of one component share one), and
// Reachable costs one atomic load while the dependency is up, so a hot path may call it.
type Dependency struct {
	log  *zap.Logger
	name string
	down atomic.Bool

	mu       sync.Mutex
	since    time.Time // the first failure of the outage
	failures int       // the outage's failures so far
}

// NewDependency returns the reachability of dependency (such as "database") for component
// (such as "event relay"), logged to log; every line names both.
func NewDependency(log *zap.Logger, component, dependency string) *Dependency {
	return &Dependency{log: log.With(zap.String("component", component), zap.String("dependency", dependency)), name: dependency}
}

// Unreachable records a failure to reach the dependency, err saying why.
func (d *Dependency) Unreachable(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.down.Load() {
		d.down.Store(true)
		d.since, d.failures = time.Now(), 1
		d.log.Warn(d.name+" unreachable", zap.Error(err))
		return
	}
	d.failures++
	d.log.Debug(d.name+" still unreachable", zap.Int("failures", d.failures), zap.Error(err))
}

// Reachable records that the dependency answered.
func (d *Dependency) Reachable() {
	if !d.down.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.down.Load() {
		return // another worker said it first
	}
	d.down.Store(false)
	d.log.Warn(d.name+" reachable again", zap.Duration("down_for", time.Since(d.since)), zap.Int("failures", d.failures))
}
