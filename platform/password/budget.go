package password

import (
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
)

// NewFromConfig returns the Hasher of p bounded by PASSWORD_HASH_MEMORY_BUDGET or, without
// one, by half the container's memory limit (cgroup v2 or v1) when one is set: under a
// Kubernetes memory limit and no CPU limit, GOMAXPROCS is the node's CPU count, and a login
// burst hashing on every CPU at Memory each would be killed for its memory.
func NewFromConfig(p Params, cfg config.Config, log *zap.Logger) *Hasher {
	budget := int64(cfg.PasswordHashMemoryBudget)
	from := "PASSWORD_HASH_MEMORY_BUDGET"
	if budget == 0 {
		from = "no budget: the CPUs alone"
		if limit, ok := cgroupMemoryLimit(); ok {
			budget, from = limit/2, "half the cgroup memory limit"
		}
	}
	h := New(p, Limits{MemoryBudget: budget})
	log.Debug("password hashing bounded", zap.Int("at_once", h.Slots()), zap.Int64("memory_budget_bytes", budget), zap.String("from", from))
	return h
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup, if one is set, as a
// container sees it (its cgroup namespace's root); a process sharing the host's cgroup
// namespace sets PASSWORD_HASH_MEMORY_BUDGET instead.
func cgroupMemoryLimit() (int64, bool) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path) //nolint:gosec // G304: the two fixed cgroup paths above, no input
		if err != nil {
			continue
		}
		return parseLimit(string(b))
	}
	return 0, false
}

// parseLimit reads a cgroup memory limit: "max" (v2) or a huge number (v1's "unlimited") is no
// limit.
func parseLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
