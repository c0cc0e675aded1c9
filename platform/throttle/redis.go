package throttle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/logging"
)

// Throttle is what the platform provides to modules that limit failed attempts: the in-memory
// Memory on one instance, Redis shared by all instances when REDIS_URL is set.
type Throttle interface {
	// Blocked returns how long key must still wait; 0 when it may try now.
	Blocked(key string) time.Duration
	// Fail records a failure of key; the limit-th failure within window blocks key for window.
	Fail(key string, limit int, window time.Duration)
	// Reset forgets key.
	Reset(key string)
}

var (
	_ Throttle = (*Memory)(nil)
	_ Throttle = (*Redis)(nil)
)

// fail counts a failure and, at the limit, blocks the key: one round trip, atomically, so that
// instances failing the same key at once count every failure. The count expires a window after
// the first failure it holds (a fixed window, where Memory's slides).
var fail = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
	redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
	redis.call('DEL', KEYS[1])
end
return n`)

// Redis keeps the counts and blocks in Redis, so that the limits hold across instances. When
// Redis does not answer, it falls back to its own in-memory throttle (with a warning when Redis
// goes away and one when it is back), so that a Redis outage never fails a login (the limits
// then hold per instance until it is back).
type Redis struct {
	client *redis.Client
	prefix string
	local  *Memory
	// redis logs an outage once when it begins and once when it ends, not at every login.
	redis *logging.Dependency
}

// NewRedis returns a throttle on the Redis of url (redis:// or rediss://), its keys under
// prefix.
func NewRedis(url, prefix string, now func() time.Time, log *zap.Logger) (*Redis, error) {
	client, err := kv.Open(url)
	if err != nil {
		return nil, err
	}
	return &Redis{client: client, prefix: prefix, local: New(now), redis: logging.NewDependency(log, "login throttle", "Redis")}, nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }

func (r *Redis) keys(key string) (failures, blocked string) {
	return r.prefix + "fail:" + key, r.prefix + "blocked:" + key
}

// fallback records that Redis failed op: the throttle counts in this instance meanwhile.
func (r *Redis) fallback(op string, err error) {
	r.redis.Unreachable(fmt.Errorf("%s (counting in this instance meanwhile): %w", op, err))
}

// Blocked implements Throttle.
func (r *Redis) Blocked(key string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	_, blocked := r.keys(key)
	ttl, err := r.client.PTTL(ctx, blocked).Result()
	if err != nil {
		r.fallback("blocked", err)
		return r.local.Blocked(key)
	}
	r.redis.Reachable()
	return max(ttl, r.local.Blocked(key), 0) // a block counted locally during an outage holds
}

// Fail implements Throttle.
func (r *Redis) Fail(key string, limit int, window time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	failures, blocked := r.keys(key)
	err := fail.Run(ctx, r.client, []string{failures, blocked}, limit, strconv.FormatInt(window.Milliseconds(), 10)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		r.fallback("fail", err)
		r.local.Fail(key, limit, window)
		return
	}
	r.redis.Reachable()
}

// Reset implements Throttle.
func (r *Redis) Reset(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	failures, blocked := r.keys(key)
	if err := r.client.Del(ctx, failures, blocked).Err(); err != nil {
		r.fallback("reset", err)
	} else {
		r.redis.Reachable()
	}
	r.local.Reset(key)
}
