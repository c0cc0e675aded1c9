package main

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// round is the outcome of driving one operation for a while.
type round struct {
	ok, errors int
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r round) perSec() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r round) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// op is one operation of a workload, run by goroutine worker (0 ≤ worker < concurrency).
type op func(worker int) error

// drive runs op from c goroutines for d or until n operations, whichever comes first.
func drive(c int, d time.Duration, n int, op op) round {
	var (
		wg      sync.WaitGroup
		count   atomic.Int64
		errs    atomic.Int64
		mu      sync.Mutex
		all     []time.Duration
		started = time.Now()
	)
	deadline := started.Add(d)
	for worker := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && count.Add(1) <= int64(n) {
				t := time.Now()
				if err := op(worker); err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return round{ok: len(all), errors: int(errs.Load()), elapsed: time.Since(started), latencies: all}
}

// median returns the round with the median throughput.
func median(rs []round) round {
	slices.SortFunc(rs, func(a, b round) int { return cmp.Compare(a.perSec(), b.perSec()) })
	return rs[len(rs)/2]
}

// measure warms op up, then runs the rounds. It returns the median round and the CPU seconds
// the service and this load generator spent per request over all rounds (warm-up excluded).
func measure(o options, svc *service, op op) (r round, svcCPU, genCPU float64) {
	drive(o.concurrency, o.warmup, o.maxRequests, op)
	s0, g0 := svc.cpuSeconds(), selfCPUSeconds()
	var rs []round
	n := 0
	for range o.rounds {
		x := drive(o.concurrency, o.duration, o.maxRequests, op)
		n += x.ok + x.errors
		rs = append(rs, x)
	}
	s1, g1 := svc.cpuSeconds(), selfCPUSeconds()
	return median(rs), (s1 - s0) / float64(max(n, 1)), (g1 - g0) / float64(max(n, 1))
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
