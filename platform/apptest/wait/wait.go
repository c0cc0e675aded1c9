// Package wait is the test kit's one way to wait for something asynchronous (an event relayed,
// a mail sent, a server ready): poll a check until it passes, and fail the test, naming what
// was awaited and why the last check failed, when the time is up.
//
// It imports nothing but the standard library, so that every test can use it, those of the
// platform packages that platform/apptest itself imports included.
package wait

import (
	"errors"
	"testing"
	"time"
)

// By default the checks are polled at growing intervals: the first ones soon after each other,
// for what happens quickly, then at most every maxInterval, so that a long wait does not take
// the CPU from the work it waits for (the suite shares the machine's cores).
const (
	firstInterval = 5 * time.Millisecond
	maxInterval   = 50 * time.Millisecond
)

// Option changes how For polls.
type Option func(*poll)

type poll struct{ first, max time.Duration }

// Every makes For check every interval rather than at growing intervals: for a check that is
// the test's workload as much as a wait, such as a reader that must keep up with writers.
func Every(interval time.Duration) Option {
	return func(p *poll) { p.first, p.max = interval, interval }
}

// For runs check until it returns nil; if it still fails once timeout has passed, the test
// fails with what (what was awaited, as in "waiting for <what>") and check's last error. check
// runs on the test's goroutine, so it may itself fail the test (t.Fatal) on an error that
// waiting cannot cure.
func For(t testing.TB, timeout time.Duration, what string, check func() error, opts ...Option) {
	t.Helper()
	p := poll{first: firstInterval, max: maxInterval}
	for _, opt := range opts {
		opt(&p)
	}
	deadline := time.Now().Add(timeout)
	for interval := p.first; ; interval = min(2*interval, p.max) {
		err := check()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("gave up after %v waiting for %s: %v", timeout, what, err)
			return
		}
		time.Sleep(min(interval, left))
	}
}

// errFalse is the last error of a condition of Until.
var errFalse = errors.New("the condition is still false")

// Until is For with a condition that has nothing to say when it does not hold.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool, opts ...Option) {
	t.Helper()
	For(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errFalse
	}, opts...)
}
