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
)

// Module provides the Throttle on the real clock: Redis when REDIS_URL is set, else Memory.
var Module = fx.Module("throttle", fx.Provide(func(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (Throttle, error) {
	if cfg.RedisURL == "" {
		return New(time.Now), nil
	}
	r, err := NewRedis(cfg.RedisURL, "userservice:throttle:", time.Now, log.Named("throttle"))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(r.Close))
	return r, nil
}))

// minSweepAt is the number of keys past which Fail first drops expired entries, bounding
// memory under a flood of distinct keys.
const minSweepAt = 10_000

type entry struct {
	failures     []time.Time
	blockedUntil time.Time
	// uses are Allow's, oldest first, on keys of their own (usesKey).
	uses []use
	// until is when nothing of the entry counts any more: its last failure's window or its
	// block, whichever ends later. Each key has its own window (the login's, the mail's), so
	// the sweep asks the entry, not the window of the call that triggers it.
	until time.Time
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
		m.sweep(now)
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
	e.until = now.Add(window)
}

// Failures returns how many failures of key are within window and not yet turned into a
// block.
func (m *Memory) Failures(key string, window time.Duration) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.keys[key]
	if !ok {
		return 0
	}
	now, n := m.now(), 0
	for _, t := range e.failures {
		if now.Sub(t) < window {
			n++
		}
	}
	return n
}

type use struct {
	at   time.Time
	name string
}

// usesKey is where Memory keeps Allow's uses of key: apart from Fail's failures, as in Redis.
func usesKey(key string) string { return "uses\x00" + key }

// Allow counts a use of key, named use, when fewer than limit are counted within window, and
// returns 0; else it returns how long until the oldest leaves the window. A use counted under
// its name before is allowed without being counted again; "" is a new use each time.
func (m *Memory) Allow(key, name string, limit int, window time.Duration) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.keys) >= m.sweepAt {
		m.sweep(now)
		m.sweepAt = max(minSweepAt, 2*len(m.keys))
	}
	e, ok := m.keys[usesKey(key)]
	if !ok {
		e = &entry{}
		m.keys[usesKey(key)] = e
	}
	kept := e.uses[:0]
	for _, u := range e.uses {
		if now.Sub(u.at) < window {
			kept = append(kept, u)
		}
	}
	e.uses = kept
	for _, u := range e.uses {
		if name != "" && u.name == name {
			return 0
		}
	}
	if len(e.uses) >= max(limit, 0) {
		if len(e.uses) == 0 {
			return window
		}
		return e.uses[0].at.Add(window).Sub(now)
	}
	e.uses = append(e.uses, use{at: now, name: name})
	e.until = now.Add(window)
	return 0
}

// Reset forgets key.
func (m *Memory) Reset(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
}

func (m *Memory) sweep(now time.Time) {
	for k, e := range m.keys {
		if !e.until.After(now) {
			delete(m.keys, k)
		}
	}
}
