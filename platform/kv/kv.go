// Package kv opens connections to the service's Redis (REDIS_URL), for the adapters that keep
// what several instances must share there: the login throttle, the users cache. Each opens its
// own client, so each owns its pool and its lifecycle.
package kv

import (
	"errors"
	"fmt"
	neturl "net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeout bounds every dial, read and write: Redis answers in well under a millisecond, so a
// call that takes longer means Redis is in trouble, and the callers fall back rather than wait.
const Timeout = 200 * time.Millisecond

// Open returns a client of the Redis at url (redis:// or rediss://). It connects lazily: an
// unreachable Redis fails the first call, not Open.
func Open(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// url.Parse quotes the whole URL in its errors, password included: keep the reason only.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = Timeout, Timeout, Timeout
	return redis.NewClient(opt), nil
}

// Describe names the Redis of url for a log: Redis host:port/db, without the credentials.
func Describe(url string) string {
	u, err := neturl.Parse(url)
	if err != nil || u.Host == "" {
		return "Redis (REDIS_URL not valid)"
	}
	return "Redis " + u.Host + u.Path
}
