package wait_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/userservice/platform/apptest/wait"
)

// recorder is a testing.TB whose Fatalf records the failure and ends the waiting function, as
// the real one ends the test's goroutine.
type recorder struct {
	testing.TB
	failure string
}

type fatal struct{}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
	panic(fatal{})
}

// run calls fn with a recorder and returns what it failed with ("" when it did not).
func run(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatal); !ok {
					panic(p)
				}
			}
		}()
		fn(r)
	}()
	return r.failure
}

func TestForReturnsOnceTheCheckPasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		passAt int // the call of the check that passes first
	}{
		{"at once", 1},
		{"after a few tries", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			failure := run(t, func(tb testing.TB) {
				wait.For(tb, 10*time.Second, "the check", func() error {
					if calls++; calls < tc.passAt {
						return errors.New("not yet")
					}
					return nil
				})
			})
			if failure != "" || calls != tc.passAt {
				t.Fatalf("failed with %q after %d calls; want success at call %d", failure, calls, tc.passAt)
			}
		})
	}
}

func TestForFailsNamingWhatAndTheLastError(t *testing.T) {
	t.Parallel()
	calls := 0
	began := time.Now()
	failure := run(t, func(tb testing.TB) {
		wait.For(tb, 100*time.Millisecond, "the answer", func() error {
			calls++
			return fmt.Errorf("attempt %d: no answer", calls)
		})
	})
	if took := time.Since(began); took < 100*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", took)
	}
	want := fmt.Sprintf("gave up after 100ms waiting for the answer: attempt %d: no answer", calls)
	if failure != want {
		t.Fatalf("failure %q; want %q", failure, want)
	}
	// The intervals grow, but not beyond what keeps a short wait responsive.
	if calls < 3 || calls > 20 {
		t.Errorf("%d checks in 100ms", calls)
	}
}

func TestUntil(t *testing.T) {
	t.Parallel()
	if failure := run(t, func(tb testing.TB) { wait.Until(tb, time.Second, "true", func() bool { return true }) }); failure != "" {
		t.Fatalf("a true condition failed: %s", failure)
	}
	failure := run(t, func(tb testing.TB) { wait.Until(tb, 20*time.Millisecond, "the flag", func() bool { return false }) })
	if !strings.HasPrefix(failure, "gave up after 20ms waiting for the flag: ") {
		t.Fatalf("failure %q", failure)
	}
}

func TestEveryPollsAtItsInterval(t *testing.T) {
	t.Parallel()
	var calls int
	run(t, func(tb testing.TB) {
		wait.Until(tb, 100*time.Millisecond, "never", func() bool { calls++; return false }, wait.Every(time.Millisecond))
	})
	// Growing intervals would make about ten checks in 100ms; every millisecond, many more.
	if calls < 30 {
		t.Fatalf("%d checks in 100ms, every millisecond", calls)
	}
}
