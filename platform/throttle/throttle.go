// Package throttle counts failed attempts per key and blocks keys that fail too often: in
// memory for one instance (Memory), or in Redis, shared by every instance, when REDIS_URL is
// set (Redis).
package throttle

import (
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/logging"
)

// Module provides the Throttle on the real clock: Redis when REDIS_URL is set, else Memory.
// It names Redis (or none) as the cache in the start-up line of backends: Redis holds what
// instances share, the throttle's counts and the users cache.
var Module = fx.Module("throttle", fx.Provide(
	func(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (Throttle, error) {
		if cfg.RedisURL == "" {
			return New(time.Now), nil
		}
		r, err := NewRedis(cfg.RedisURL, "userservice:throttle:", time.Now, log.Named("throttle"))
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(r.Close))
		return r, nil
	},
	logging.AsBackend(func(cfg config.Config) logging.Backend {
		if cfg.RedisURL == "" {
			return logging.Backend{Role: "cache", Use: "none"}
		}
		return logging.Backend{Role: "cache", Use: kv.Describe(cfg.RedisURL)}
	}),
))

// minSweepAt is the number of keys past which Fail first drops expired entries, bounding
// memory under a flood of distinct keys.
const minSweepAt = 10_000

type entry struct {
	failures     []time.Time
	blockedUntil time.Time
}

// Memory is an in-memory throttle, safe for concurrent use.
type Memory struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*entry
	// sweepAt is the size that triggers the next sweep: twice what survived the last one, so
	// sweeping stays amortised O(1) per failure even when every key is live.
	sweepAt int
}

// New returns an empty throttle on the clock now.
func New(now func() time.Time) *Memory {
	return &Memory{now: now, keys: make(map[string]*entry), sweepAt: minSweepAt}
}

// Blocked returns how long key must still wait; 0 when it may try now.
func (m *Memory) Blocked(key string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[key]
	if !ok {
		return 0
	}
	if wait := e.blockedUntil.Sub(m.now()); wait > 0 {
		return wait
	}
	return 0
}

// Fail records a failure of key; the limit-th failure within window blocks key for window.
func (m *Memory) Fail(key string, limit int, window time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.keys) >= m.sweepAt {
		m.sweep(now, window)
		m.sweepAt = max(minSweepAt, 2*len(m.keys))
	}
	e, ok := m.keys[key]
	if !ok {
		e = &entry{}
		m.keys[key] = e
	}
	kept := e.failures[:0]
	for _, t := range e.failures {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	e.failures = append(kept, now)
	if len(e.failures) >= limit {
		e.blockedUntil = now.Add(window)
		e.failures = e.failures[:0]
	}
}

// Reset forgets key.
func (m *Memory) Reset(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
}

func (m *Memory) sweep(now time.Time, window time.Duration) {
	for k, e := range m.keys {
		last := e.blockedUntil
		if n := len(e.failures); n > 0 && e.failures[n-1].Add(window).After(last) {
			last = e.failures[n-1].Add(window)
		}
		if !last.After(now) {
			delete(m.keys, k)
		}
	}
}
