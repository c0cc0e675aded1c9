package throttle

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/kv"
)

// Throttle is what the platform provides to modules that limit failed attempts: the in-memory
// Memory on one instance, Redis shared by all instances when REDIS_URL is set.
type Throttle interface {
	// Blocked returns how long key must still wait; 0 when it may try now.
	Blocked(key string) time.Duration
	// Fail records a failure of key; the limit-th failure within window blocks key for window.
	Fail(key string, limit int, window time.Duration)
	// Failures returns how many failures of key are within window and not yet turned into a
	// block (the limit-th starts the count again).
	Failures(key string, window time.Duration) int
	// Reset forgets key's failures and block.
	Reset(key string)
	// Allow counts a use of key, named use, when fewer than limit (at least 1) are counted
	// within window, and returns 0; else it counts nothing and returns how long until the
	// oldest leaves the window. A use already counted under its name is allowed again without
	// being counted twice (an event delivered again); "" names a new use each time. Counting
	// and checking are one step, so a burst of concurrent requests, on one instance or many,
	// gets exactly limit through. Its counts are apart from Fail's.
	Allow(key, use string, limit int, window time.Duration) time.Duration
}

var (
	_ Throttle = (*Memory)(nil)
	_ Throttle = (*Redis)(nil)
)

// fail counts a failure and, at the limit, blocks the key: one round trip, atomically, so that
// instances failing the same key at once count every failure. The failures are a sliding log,
// as Memory's, scored by the caller's clock (ARGV[3], in milliseconds); a block holds the
// time it ends. Redis's own expiry only collects what the log no longer counts.
var fail = redis.NewScript(`
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
	redis.call('SET', KEYS[2], now + window, 'PX', window)
	redis.call('DEL', KEYS[1])
end
return n`)

// allow is Allow in one round trip: a sliding log of uses, as fail's of failures, each named
// by its use.
var allow = redis.NewScript(`
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 0 end
if redis.call('ZCARD', KEYS[1]) < limit then
	redis.call('ZADD', KEYS[1], now, ARGV[4])
	redis.call('PEXPIRE', KEYS[1], window)
	return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now`)

// Redis keeps the counts and blocks in Redis, so that the limits hold across instances. When
// Redis does not answer, it falls back to its own in-memory throttle, with a warning, so that
// a Redis outage never fails a login (the limits then hold per instance until it is back).
//
// Windows are measured by the instance's clock (now), not Redis's: the same clock Memory uses,
// so a test drives both with one fake clock, and instances agree as far as their clocks do
// (NTP keeps that to milliseconds; the windows are minutes).
type Redis struct {
	client *redis.Client
	prefix string
	now    func() time.Time
	local  *Memory
	log    *zap.Logger
}

// NewRedis returns a throttle on the Redis of url (redis:// or rediss://), its keys under
// prefix, its windows on the clock now.
func NewRedis(url, prefix string, now func() time.Time, log *zap.Logger) (*Redis, error) {
	client, err := kv.Open(url)
	if err != nil {
		return nil, err
	}
	return &Redis{client: client, prefix: prefix, now: now, local: New(now), log: log}, nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }

// keys are the Redis keys of key: its failures' log and its block's end. (Not the "fail:" and
// "blocked:" of the counters they replaced, whose types differ: during a rolling upgrade the
// two versions count apart rather than fail on each other's keys.)
func (r *Redis) keys(key string) (failures, blocked string) {
	return r.prefix + "log:" + key, r.prefix + "until:" + key
}

func (r *Redis) fallback(op string, err error) {
	r.log.Warn("throttle: Redis unavailable; counting in this instance", zap.String("op", op), zap.Error(err))
}

// member names one entry of a sliding log: unique, so that two entries of one millisecond
// count twice.
func member() string { return strconv.FormatUint(rand.Uint64(), 36) }

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Blocked implements Throttle.
func (r *Redis) Blocked(key string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	_, blocked := r.keys(key)
	var wait time.Duration
	until, err := r.client.Get(ctx, blocked).Int64()
	switch {
	case err == nil:
		wait = time.UnixMilli(until).Sub(r.now())
	case !errors.Is(err, redis.Nil):
		r.fallback("blocked", err)
	}
	return max(wait, r.local.Blocked(key), 0) // a block counted locally during an outage holds
}

// Fail implements Throttle.
func (r *Redis) Fail(key string, limit int, window time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	failures, blocked := r.keys(key)
	err := fail.Run(ctx, r.client, []string{failures, blocked},
		limit, window.Milliseconds(), millis(r.now()), member()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		r.fallback("fail", err)
		r.local.Fail(key, limit, window)
	}
}

// Allow implements Throttle.
func (r *Redis) Allow(key, use string, limit int, window time.Duration) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	if use == "" {
		use = member()
	}
	wait, err := allow.Run(ctx, r.client, []string{r.prefix + "uses:" + key},
		limit, window.Milliseconds(), millis(r.now()), use).Int64()
	if err != nil {
		r.fallback("allow", err)
		return r.local.Allow(key, use, limit, window)
	}
	return time.Duration(wait) * time.Millisecond
}

// Failures implements Throttle.
func (r *Redis) Failures(key string, window time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	failures, _ := r.keys(key)
	n, err := r.client.ZCount(ctx, failures, "("+millis(r.now().Add(-window)), "+inf").Result()
	if err != nil {
		r.fallback("failures", err)
	}
	return max(int(n), r.local.Failures(key, window)) // as Blocked: what was counted locally counts
}

// Reset implements Throttle.
func (r *Redis) Reset(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), kv.Timeout)
	defer cancel()
	failures, blocked := r.keys(key)
	if err := r.client.Del(ctx, failures, blocked).Err(); err != nil {
		r.fallback("reset", err)
	}
	r.local.Reset(key)
}
