package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/cmd/loadbench/internal/statements"
)

// engineRun is what the workloads of one engine run on and against: the database, its seeded
// users, the admin, and the instances started on it with their load-generating connections.
type engineRun struct {
	o      options
	ctx    context.Context
	engine string
	db     *database
	admin  admin
	ids    []uuid.UUID
	times  []time.Time
	// run (keeping emails unique across rounds and runs) and seq number the users the
	// workloads create.
	run int64
	seq atomic.Int64

	svc   *service
	conns []*conn
	// baseline is the hand-written baseline (PostgreSQL only) and base its connections.
	baseline *service
	base     []*conn
	// cached is the service with the users cache in Redis (the *-cached workloads), cconns its
	// connections and hitRead their ceiling.
	cached  *service
	cconns  []*conn
	hitRead op
	// cleanups close the connections and stop the instances, in the order they were started.
	cleanups []func()
}

// runEngine measures the workloads on a fresh database of engine.
func runEngine(o options, bin, minimalBin, engine string) (engineResult, error) {
	ctx := context.Background()
	db, err := newDatabase(ctx, o, engine)
	if err != nil {
		return engineResult{}, err
	}
	defer db.close()
	if db.stmts, err = statements.Load(engine); err != nil {
		return engineResult{}, err
	}
	adm, err := setUpAdmin(bin, db.url)
	if err != nil {
		return engineResult{}, err
	}
	if err := db.open(ctx, o.concurrency); err != nil {
		return engineResult{}, err
	}
	ids, times, err := db.seed(ctx, o.seed)
	if err != nil {
		return engineResult{}, fmt.Errorf("seed: %w", err)
	}
	e := &engineRun{o: o, ctx: ctx, engine: engine, db: db, admin: adm, ids: ids, times: times}
	defer e.stop()
	startup, err := e.start(bin, minimalBin)
	if err != nil {
		return engineResult{}, err
	}
	e.run = time.Now().UnixNano() % 1e6
	res := engineResult{Engine: engine, StartupMs: float64(startup.Microseconds()) / 1000}
	for _, w := range e.workloads() {
		if !slices.Contains(o.workloads, w.name) || w.http == nil {
			continue
		}
		out, err := e.measureWorkload(w)
		if err != nil {
			return res, err
		}
		if w.name == "login" {
			res.PeakRSSLoginMiB = out.PeakRSSMiB
		} else {
			res.PeakRSSMiB = max(res.PeakRSSMiB, out.PeakRSSMiB)
			res.PeakAnonMiB = max(res.PeakAnonMiB, out.PeakAnonMiB)
		}
		res.Results = append(res.Results, out)
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f req/s (its background work drained %.1f s after it)\n", engine, w.name, out.ReqPerSec, out.DrainedSec)
	}
	return res, nil
}

// start starts the measured service, and beside it the baseline and the cached instance when
// they are wanted; it returns how long the measured service took to become ready.
func (e *engineRun) start(bin, minimalBin string) (time.Duration, error) {
	svc, startup, err := startService(bin, e.db.url, e.o.profileDir != "")
	if err != nil {
		return 0, err
	}
	e.svc, e.conns = svc, e.connect(svc)
	// The baseline runs on PostgreSQL beside the service, idle until its turn.
	if e.engine == "postgres" {
		if e.baseline, err = startMinimal(minimalBin, e.db.url); err != nil {
			return 0, err
		}
		e.base = e.connect(e.baseline)
	}
	// The same service with the users cache in Redis, beside the other, for the *-cached
	// workloads; its ceiling is the cache's hit: one MGET of the keys a hit reads.
	if e.o.redisURL != "" && (slices.Contains(e.o.workloads, "get-cached") || slices.Contains(e.o.workloads, "update-cached")) {
		if e.cached, _, err = startService(bin, e.db.url, false, "REDIS_URL="+e.o.redisURL); err != nil {
			return 0, err
		}
		e.cconns = e.connect(e.cached)
		if e.hitRead, err = redisHit(e.ctx, e.o.redisURL); err != nil {
			return 0, err
		}
	}
	return startup, nil
}

// connect returns the load-generating connections to s; stop closes them and stops s.
func (e *engineRun) connect(s *service) []*conn {
	cs := s.conns(e.o.concurrency)
	e.cleanups = append(e.cleanups, s.stop, func() { closeAll(cs) })
	return cs
}

// stop closes the connections and stops the instances, the last started first.
func (e *engineRun) stop() {
	for _, f := range slices.Backward(e.cleanups) {
		f()
	}
}

// measureWorkload measures w on its service, then what the service is held against.
func (e *engineRun) measureWorkload(w workload) (result, error) {
	svc := e.svc
	if w.on != nil {
		svc = w.on
	}
	out, err := e.measureService(svc, w)
	if err == nil {
		err = e.measureCeilings(svc, w, &out)
	}
	return out, err
}

// measureService measures w's requests to svc: it starts once the background work of the
// workload before is done and, after them, waits for w's own.
func (e *engineRun) measureService(svc *service, w workload) (result, error) {
	settled, err := svc.settle(2 * time.Minute)
	if err != nil {
		return result{}, fmt.Errorf("before %s: %w", w.name, err)
	}
	// Each workload's peak on its own: not the set-up's admin login, nor the one before.
	if err := svc.resetPeakRSS(); err != nil {
		return result{}, err
	}
	profiled := e.profile(svc, w.name)
	stopSampling := make(chan struct{})
	anon := svc.sampleAnon(stopSampling)
	r, svcCPU, genCPU := measure(e.o, svc, w.http)
	close(stopSampling)
	if profiled != nil {
		if err := <-profiled; err != nil {
			return result{}, fmt.Errorf("profile %s: %w", w.name, err)
		}
	}
	out := result{
		Workload: w.name, ReqPerSec: r.perSec(), Errors: r.errors,
		P50ms: ms(r.quantile(0.50)), P99ms: ms(r.quantile(0.99)),
		CPUusPerRq: svcCPU * 1e6, GenCPUusPerRq: genCPU * 1e6, PeakRSSMiB: svc.peakRSS(), PeakAnonMiB: <-anon,
	}
	// The workload's events and mails are worked off before its ceilings are measured.
	drained, err := svc.settle(2 * time.Minute)
	if err != nil {
		return out, fmt.Errorf("after %s: %w", w.name, err)
	}
	out.SettledSec, out.DrainedSec = settled.Seconds(), drained.Seconds()
	return out, nil
}

// profile, with -profile, saves a CPU profile of svc during the first measured round of
// workload and reports how that went on the channel; without -profile it returns nil.
func (e *engineRun) profile(svc *service, workload string) <-chan error {
	if e.o.profileDir == "" {
		return nil
	}
	profiled := make(chan error, 1)
	go func() {
		time.Sleep(e.o.warmup) // profile the first measured round
		profiled <- svc.profileCPU(e.o.duration, filepath.Join(e.o.profileDir, e.engine+"-"+workload+".pprof"))
	}()
	return profiled
}

// measureCeilings measures, after w's requests, what the service is held against: the
// database's ceiling for the same statements, register's INSERT alone and the hand-written
// baseline, each where w has one. svc is the instance w measured.
func (e *engineRun) measureCeilings(svc *service, w workload, out *result) error {
	if w.ceiling != nil {
		c, _, _ := measure(e.o, svc, w.ceiling)
		out.Ceiling = c.perSec()
		if c.errors > 0 {
			return fmt.Errorf("ceiling of %s: %d errors", w.name, c.errors)
		}
		out.Ratio = out.ReqPerSec / out.Ceiling
		if err := e.db.dropCeilingEvents(e.ctx); err != nil {
			return err
		}
	}
	if insert := e.insertCeiling(w.name); insert != nil {
		c, _, _ := measure(e.o, svc, insert)
		if c.errors > 0 {
			return fmt.Errorf("INSERT ceiling of %s: %d errors", w.name, c.errors)
		}
		out.InsertCeiling = c.perSec()
		out.RatioToInsert = out.ReqPerSec / out.InsertCeiling
	}
	if w.minimal != nil {
		m, _, _ := measure(e.o, e.baseline, w.minimal)
		if m.errors > 0 {
			return fmt.Errorf("baseline of %s: %d errors", w.name, m.errors)
		}
		out.Minimal, out.MinimalP99ms = m.perSec(), ms(m.quantile(0.99))
		out.RatioToMinimal = out.ReqPerSec / out.Minimal
	}
	return nil
}
