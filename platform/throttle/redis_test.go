package throttle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/throttle/redistest"
)

func redisThrottle(t *testing.T, url string) *throttle.Redis {
	t.Helper()
	r, err := throttle.NewRedis(url, "test:", time.Now, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestRedisSharesTheCounts: two instances on one Redis count the same key's failures
// together, block it for both, and a reset on one clears it for both.
func TestRedisSharesTheCounts(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := redisThrottle(t, srv.URL()), redisThrottle(t, srv.URL())
	a.Fail("alice", 3, time.Minute)
	b.Fail("alice", 3, time.Minute)
	if a.Blocked("alice") != 0 || b.Blocked("alice") != 0 {
		t.Fatal("blocked after 2 of 3 failures")
	}
	a.Fail("alice", 3, time.Minute)
	if wait := b.Blocked("alice"); wait <= 50*time.Second || wait > time.Minute {
		t.Fatalf("the other instance sees a wait of %v after the third failure; want about a minute", wait)
	}
	if b.Blocked("bob") != 0 {
		t.Fatal("another key is blocked")
	}
	b.Reset("alice")
	if a.Blocked("alice") != 0 {
		t.Fatal("a reset on one instance did not clear the other's view")
	}
	// The window: failures older than it are forgotten. Redis keeps the window (the count
	// expires with it): the count must expire within the window, and once Redis has dropped it
	// (awaited, rather than a time Redis might not yet have acted on) a new failure is the
	// first again.
	a.Fail("carol", 2, 100*time.Millisecond)
	rdb, err := kv.Open(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	const countKey = "test:fail:carol" // the throttle's prefix, then its own
	if ttl, err := rdb.PTTL(context.Background(), countKey).Result(); err != nil || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Fatalf("the count of carol's failures expires in %v (%v); want within the window, 100ms", ttl, err)
	}
	wait.For(t, 10*time.Second, "Redis to drop the count of carol's failures", func() error {
		n, err := rdb.Exists(context.Background(), countKey).Result()
		if err == nil && n != 0 {
			err = errors.New("the count is still there")
		}
		return err
	})
	a.Fail("carol", 2, 100*time.Millisecond)
	if a.Blocked("carol") != 0 {
		t.Fatal("a failure outside the window still counted")
	}
}

// TestRedisDownFallsBackToTheInstance: with Redis gone, failures are counted in the instance
// (a login never fails because Redis does), and once Redis is back the counts are shared again.
func TestRedisDownFallsBackToTheInstance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := redisThrottle(t, srv.URL())
	srv.Stop()
	start := time.Now()
	for range 3 {
		r.Fail("dave", 3, time.Minute)
	}
	if r.Blocked("dave") == 0 {
		t.Fatal("with Redis down, the limit was not enforced in the instance")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("failing with Redis down took %v", took)
	}
	srv.Restart()
	other := redisThrottle(t, srv.URL())
	for range 3 {
		other.Fail("erin", 3, time.Minute)
	}
	if r.Blocked("erin") == 0 {
		t.Fatal("after Redis came back, the counts are not shared")
	}
}

// TestRedisURLErrorsKeepThePassword: a malformed REDIS_URL is refused without quoting it.
func TestRedisURLErrorsKeepThePassword(t *testing.T) {
	t.Parallel()
	_, err := throttle.NewRedis("redis://user:hunter2@localhost:notaport/0", "test:", time.Now, zaptest.NewLogger(t))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}
