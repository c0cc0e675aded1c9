package password

import (
	"errors"
	"sync"
	"testing"
)

// TestABurstIsBoundedByTheMemoryBudget: 64 hashes at once against a budget of two hashes'
// memory run two at a time; the queue behind them takes a few, and the rest are shed with
// ErrBusy instead of holding their memory.
func TestABurstIsBoundedByTheMemoryBudget(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	h := New(p, Limits{MemoryBudget: 2 * 8 * 1024 * 1024, Queue: 2})
	if h.Slots() > 2 {
		t.Fatalf("%d slots for a budget of two hashes", h.Slots())
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var busy, done int
	for range 64 {
		wg.Go(func() {
			<-start
			_, err := h.Hash("a password to hash")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBusy):
				busy++
			case err == nil:
				done++
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if peak := h.peak.Load(); peak > int64(h.Slots()) {
		t.Errorf("%d hashes ran at once; the budget allows %d", peak, h.Slots())
	}
	if busy == 0 || done < h.Slots() {
		t.Errorf("%d shed, %d hashed: a burst past the queue must be shed, and the slots' hashes done", busy, done)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 19 * 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	for _, tc := range []struct {
		budget int64
		atMost int
	}{
		{budget: 0, atMost: 1 << 20},   // the CPUs alone
		{budget: 128 << 20, atMost: 6}, // 128 MiB / 19 MiB
		{budget: 1, atMost: 1},         // never none
	} {
		if got := New(p, Limits{MemoryBudget: tc.budget}).Slots(); got > tc.atMost || got < 1 {
			t.Errorf("budget %d: %d slots, want 1..%d", tc.budget, got, tc.atMost)
		}
	}
	for _, tc := range []struct {
		in    string
		limit int64
		ok    bool
	}{{"max\n", 0, false}, {"268435456\n", 268435456, true}, {"9223372036854771712", 0, false}, {"", 0, false}} {
		if limit, ok := parseLimit(tc.in); limit != tc.limit || ok != tc.ok {
			t.Errorf("parseLimit(%q) = %d, %v", tc.in, limit, ok)
		}
	}
}
