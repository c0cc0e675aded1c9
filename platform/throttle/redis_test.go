package throttle_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/throttle/redistest"
)

// clock is a fake clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func redisThrottle(t *testing.T, url string) *throttle.Redis {
	t.Helper()
	return redisOn(t, url, time.Now)
}

// redisOn is a throttle on the Redis at url whose windows follow now.
func redisOn(t *testing.T, url string, now func() time.Time) *throttle.Redis {
	t.Helper()
	r, err := throttle.NewRedis(url, "test:", now, zaptest.NewLogger(t))
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
}

// TestRedisWindowsFollowTheClock: on Redis, failures slide out of the window and blocks end
// by the instances' clock, as in Memory: the same steps give the same answers.
func TestRedisWindowsFollowTheClock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := newClock()
	a, b := redisOn(t, srv.URL(), c.Now), redisOn(t, srv.URL(), c.Now)
	for i, st := range windowSteps {
		c.advance(st.advance)
		if st.fail {
			[]*throttle.Redis{a, b}[i%2].Fail("carol", stepLimit, stepWindow) // both instances count
		}
		if got := b.Blocked("carol") > 0; got != st.blocked {
			t.Fatalf("step %d: blocked=%v", i, got)
		}
		if got := a.Failures("carol", stepWindow); got != st.failures {
			t.Fatalf("step %d: %d failures, want %d", i, got, st.failures)
		}
	}
}

// TestRedisAllowFollowsTheClock: Allow on Redis gives Memory's answers, whichever instance
// asks, and a burst over two instances gets exactly the limit through.
func TestRedisAllowFollowsTheClock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := newClock()
	a, b := redisOn(t, srv.URL(), c.Now), redisOn(t, srv.URL(), c.Now)
	for i, st := range allowSteps {
		c.advance(st.advance)
		if got := []*throttle.Redis{a, b}[i%2].Allow("dora", st.use, allowLimit, allowWindow); got != st.wait {
			t.Fatalf("step %d: wait %v, want %v", i, got, st.wait)
		}
	}
	burst(t, redisThrottle(t, srv.URL()), redisThrottle(t, srv.URL()))
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
	if r.Allow("dave", "", 1, time.Minute) != 0 || r.Allow("dave", "", 1, time.Minute) == 0 {
		t.Fatal("with Redis down, Allow did not count in the instance")
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
