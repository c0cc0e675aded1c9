package throttle_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/userservice/platform/throttle"
)

// windowSteps are failures of one key against a limit of 3 in a minute, and what the
// throttle must say after each: Memory and Redis answer alike.
var windowSteps = []struct {
	advance  time.Duration
	fail     bool
	blocked  bool
	failures int
}{
	{0, true, false, 1},
	{10 * time.Second, true, false, 2},
	// The first failure slides out: two within the window, still allowed.
	{55 * time.Second, true, false, 2},
	{time.Second, true, true, 0}, // three within the window: blocked for a minute, counting again
	{59 * time.Second, false, true, 0},
	{2 * time.Second, false, false, 0},
}

const stepLimit, stepWindow = 3, time.Minute

func TestBlocksAfterLimitWithinWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := throttle.New(func() time.Time { return now })
	const window = stepWindow
	for i, st := range windowSteps {
		now = now.Add(st.advance)
		if st.fail {
			m.Fail("k", stepLimit, window)
		}
		if got := m.Blocked("k") > 0; got != st.blocked {
			t.Fatalf("step %d: blocked=%v", i, got)
		}
		if got := m.Failures("k", window); got != st.failures {
			t.Fatalf("step %d: %d failures, want %d", i, got, st.failures)
		}
	}
	if m.Blocked("other") != 0 {
		t.Fatal("keys are independent")
	}
	m.Fail("r", 1, window)
	m.Reset("r")
	if m.Blocked("r") != 0 {
		t.Fatal("Reset must unblock")
	}
}

func TestManyKeysAreSwept(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := throttle.New(func() time.Time { return now })
	for i := range 20_000 {
		m.Fail(strconv.Itoa(i), 5, time.Minute)
	}
	now = now.Add(2 * time.Minute)
	m.Fail("late", 1, time.Minute)
	if m.Blocked("late") == 0 || m.Blocked("1") != 0 {
		t.Fatal("sweeping must keep live keys and drop expired ones")
	}
}

// TestSweepKeepsEachKeysWindow: a sweep triggered by a key with a short window keeps the
// failures and blocks of keys whose windows are longer.
func TestSweepKeepsEachKeysWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := throttle.New(func() time.Time { return now })
	m.Fail("long-blocked", 1, time.Hour)
	m.Fail("long-counting", 2, time.Hour)
	for i := range 20_000 {
		m.Fail(strconv.Itoa(i), 5, time.Second)
	}
	now = now.Add(time.Minute)
	for i := range 20_000 { // past the sweep size again, with a one-second window
		m.Fail("short"+strconv.Itoa(i), 5, time.Second)
	}
	if m.Blocked("long-blocked") == 0 {
		t.Fatal("the sweep dropped a block of an hour after a minute")
	}
	m.Fail("long-counting", 2, time.Hour)
	if m.Blocked("long-counting") == 0 {
		t.Fatal("the sweep dropped a failure an hour's window still counts")
	}
}

// allowSteps are uses of one key against a limit of 2 in a minute, and what Allow must answer
// to each: Memory and Redis answer alike.
var allowSteps = []struct {
	advance time.Duration
	use     string
	wait    time.Duration
}{
	{0, "first", 0},
	{10 * time.Second, "", 0},
	{10 * time.Second, "", 40 * time.Second}, // two in the minute: until the first leaves it
	{0, "first", 0},                          // counted already: allowed, not counted again
	{41 * time.Second, "", 0},                // the first left the window
	{0, "", 9 * time.Second},                 // the second leaves it at 70 s
}

const allowLimit, allowWindow = 2, time.Minute

func TestAllowCountsUsesWithinWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := throttle.New(func() time.Time { return now })
	for i, st := range allowSteps {
		now = now.Add(st.advance)
		if got := m.Allow("k", st.use, allowLimit, allowWindow); got != st.wait {
			t.Fatalf("step %d: wait %v, want %v", i, got, st.wait)
		}
	}
	if m.Allow("other", "", allowLimit, allowWindow) != 0 || m.Blocked("k") != 0 {
		t.Fatal("uses are counted per key, apart from failures")
	}
}

// TestAllowLetsExactlyTheLimitThroughABurst: concurrent uses get exactly limit through.
func TestAllowLetsExactlyTheLimitThroughABurst(t *testing.T) {
	t.Parallel()
	burst(t, throttle.New(time.Now))
}

// burst sends 40 concurrent uses of one key through th, against a limit of 20.
func burst(t *testing.T, th ...throttle.Throttle) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		allowed atomic.Int32
	)
	for i := range 40 {
		wg.Go(func() {
			if th[i%len(th)].Allow("burst", "", 20, time.Hour) == 0 {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 20 {
		t.Fatalf("%d of 40 concurrent uses allowed; want 20", n)
	}
}
