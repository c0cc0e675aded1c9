package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/cmd/loadbench/internal/statements"
)

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
	// The first instance migrates and logs the admin in (the token outlives it); the second,
	// measured, starts on a migrated database without the memory of that setup's hashing.
	svc, _, err := startService(bin, db.url, false)
	if err != nil {
		return engineResult{}, err
	}
	token, err := adminToken(bin, db.url, svc.base)
	var me struct {
		UserID uuid.UUID `json:"user_id"`
	}
	if err == nil {
		err = decode("GET", svc.base+"/users/me", token, "", &me)
	}
	var session uuid.UUID
	if err == nil {
		session, err = sessionOf(token)
	}
	svc.stop()
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
	svc, startup, err := startService(bin, db.url, o.profileDir != "")
	if err != nil {
		return engineResult{}, err
	}
	defer svc.stop()
	conns := svc.conns(o.concurrency)
	defer closeAll(conns)
	// The baseline runs on PostgreSQL beside the service, idle until its turn.
	var base []*conn
	var baseline *service
	if engine == "postgres" {
		if baseline, err = startMinimal(minimalBin, db.url); err != nil {
			return engineResult{}, err
		}
		defer baseline.stop()
		base = baseline.conns(o.concurrency)
		defer closeAll(base)
	}
	// An authenticated request runs the account and session lookup, then the operation: the
	// ceiling of a protected workload is that same sequence of statements (GET /users/{id} is
	// one statement).
	authed := func(f op) op {
		return func(w int) error {
			if err := db.run(ctx, "GetCaller", session, me.UserID); err != nil {
				return err
			}
			return f(w)
		}
	}
	// SQLite's adapter updates by reading and writing in a transaction (see the adapter): no
	// single statement to hold it against.
	pgOnly := func(f op) op {
		if engine != "postgres" {
			return nil
		}
		return f
	}
	pick := func() string { return ids[rand.IntN(len(ids))].String() }
	var seq atomic.Int64
	run := time.Now().UnixNano() % 1e6 // keeps emails unique across rounds and runs
	next := func() int64 { return seq.Add(1) }
	deep := len(ids) * 9 / 10
	cursor := cursorAfter(times[deep], ids[deep])

	// The same service with the users cache in Redis, beside the other, for the *-cached
	// workloads; its ceiling is the cache's hit: one MGET of the keys a hit reads.
	var (
		cached  *service
		cconns  []*conn
		hitRead op
	)
	if o.redisURL != "" && (slices.Contains(o.workloads, "get-cached") || slices.Contains(o.workloads, "update-cached")) {
		if cached, _, err = startService(bin, db.url, false, "REDIS_URL="+o.redisURL); err != nil {
			return engineResult{}, err
		}
		defer cached.stop()
		cconns = cached.conns(o.concurrency)
		defer closeAll(cconns)
		if hitRead, err = redisHit(ctx, o.redisURL); err != nil {
			return engineResult{}, err
		}
	}
	onCached := func(f op) op {
		if cached == nil {
			return nil
		}
		return f
	}

	type workload struct {
		name    string
		http    op
		ceiling op
		minimal op // the hand-written baseline's same request, on PostgreSQL
		// on is the service measured: svc unless set.
		on *service
	}
	onBaseline := func(f op) op {
		if baseline == nil {
			return nil
		}
		return f
	}
	all := []workload{
		{"health", func(w int) error { return conns[w].do("GET", "/health", "", "", 200) }, nil,
			onBaseline(func(w int) error { return base[w].do("GET", "/health", "", "", 200) }), nil},
		{"register", func(w int) error {
			n := next()
			return conns[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"r%d_%d","email":"r%d_%d@example.com"}`, run, n, run, n), 201)
		}, func(int) error {
			n := next()
			return db.registerWithEvent(ctx, fmt.Sprintf("c%d_%d", run, n), fmt.Sprintf("c%d_%d@example.com", run, n))
		}, onBaseline(func(w int) error {
			n := next()
			return base[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"m%d_%d","email":"m%d_%d@example.com"}`, run, n, run, n), 201)
		}), nil},
		// GET /users/{id} reads its caller in the same statement as the user.
		{"get", func(w int) error { return conns[w].do("GET", "/users/"+pick(), token, "", 200) },
			func(int) error {
				return db.run(ctx, "GetCallerAnd", session, me.UserID, ids[rand.IntN(len(ids))])
			},
			onBaseline(func(w int) error { return base[w].do("GET", "/users/"+pick(), "", "", 200) }), nil},
		{"get-cached", onCached(func(w int) error { return cconns[w].do("GET", "/users/"+pick(), token, "", 200) }), hitRead, nil, cached},
		{"list-first", func(w int) error { return conns[w].do("GET", "/users?limit=20", token, "", 200) },
			authed(func(int) error { return db.run(ctx, "ListUsersFirst", nil, 21) }), nil, nil},
		{"list-deep", func(w int) error { return conns[w].do("GET", "/users?limit=20&cursor="+cursor, token, "", 200) },
			authed(func(int) error { return db.run(ctx, "ListUsersAfter", times[deep], ids[deep], nil, 21) }), nil, nil},
		{"update", func(w int) error {
			return conns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"u%d_%d@example.com"}`, run, next()), 200)
		}, pgOnly(authed(func(int) error {
			return db.changeWithEvent(ctx, ids[rand.IntN(len(ids))], "userservice.user.updated.v1", true, fmt.Sprintf("cu%d_%d@example.com", run, next()))
		})), nil, nil},
		{"update-cached", onCached(func(w int) error {
			return cconns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"k%d_%d@example.com"}`, run, next()), 200)
		}), nil, nil, cached},
		{"deactivate", func(w int) error {
			return conns[w].do("POST", "/users/"+pick()+"/deactivate", token, "", 200)
		}, pgOnly(authed(func(int) error {
			id := ids[rand.IntN(len(ids))]
			return db.changeWithEvent(ctx, id, "userservice.user.deactivated.v1", false, "c_"+id.String()+"@example.com")
		})), onBaseline(func(w int) error { return base[w].do("POST", "/users/"+pick()+"/deactivate", "", "", 200) }), nil},
		{"login", func(w int) error {
			return conns[w].do("POST", "/auth/token", "", `{"email":"bench_admin@example.com","password":"bench admin password"}`, 200)
		}, nil, nil, nil},
	}
	// Register's ceiling before the outbox: the user's INSERT alone, measured beside the ceiling
	// of what it runs now, so that the outbox's cost shows in the same run.
	insertCeilings := map[string]op{"register": func(int) error {
		n, now := next(), time.Now().UTC()
		return db.run(ctx, "InsertUser", uuid.Must(uuid.NewV7()), fmt.Sprintf("i%d_%d", run, n), fmt.Sprintf("i%d_%d@example.com", run, n), true, "user", nil, now, now, nil)
	}}
	res := engineResult{Engine: engine, StartupMs: float64(startup.Microseconds()) / 1000}
	for _, w := range all {
		if !slices.Contains(o.workloads, w.name) || w.http == nil {
			continue
		}
		svc := svc
		if w.on != nil {
			svc = w.on
		}
		settled, err := svc.settle(2 * time.Minute)
		if err != nil {
			return res, fmt.Errorf("before %s: %w", w.name, err)
		}
		// Each workload's peak on its own: not the set-up's admin login, nor the one before.
		if err := svc.resetPeakRSS(); err != nil {
			return res, err
		}
		var profiled chan error
		if o.profileDir != "" {
			profiled = make(chan error, 1)
			go func() {
				time.Sleep(o.warmup) // profile the first measured round
				profiled <- svc.profileCPU(o.duration, filepath.Join(o.profileDir, engine+"-"+w.name+".pprof"))
			}()
		}
		stopSampling := make(chan struct{})
		anon := svc.sampleAnon(stopSampling)
		r, svcCPU, genCPU := measure(o, svc, w.http)
		close(stopSampling)
		if profiled != nil {
			if err := <-profiled; err != nil {
				return res, fmt.Errorf("profile %s: %w", w.name, err)
			}
		}
		out := result{
			Workload: w.name, ReqPerSec: r.perSec(), Errors: r.errors,
			P50ms: ms(r.quantile(0.50)), P99ms: ms(r.quantile(0.99)),
			CPUusPerRq: svcCPU * 1e6, GenCPUusPerRq: genCPU * 1e6, PeakRSSMiB: svc.peakRSS(), PeakAnonMiB: <-anon,
		}
		if w.name == "login" {
			res.PeakRSSLoginMiB = out.PeakRSSMiB
		} else {
			res.PeakRSSMiB = max(res.PeakRSSMiB, out.PeakRSSMiB)
			res.PeakAnonMiB = max(res.PeakAnonMiB, out.PeakAnonMiB)
		}
		// The workload's events and mails are worked off before its ceilings are measured.
		drained, err := svc.settle(2 * time.Minute)
		if err != nil {
			return res, fmt.Errorf("after %s: %w", w.name, err)
		}
		out.SettledSec, out.DrainedSec = settled.Seconds(), drained.Seconds()
		if w.ceiling != nil {
			c, _, _ := measure(o, svc, w.ceiling)
			out.Ceiling = c.perSec()
			if c.errors > 0 {
				return res, fmt.Errorf("ceiling of %s: %d errors", w.name, c.errors)
			}
			out.Ratio = out.ReqPerSec / out.Ceiling
			if err := db.dropCeilingEvents(ctx); err != nil {
				return res, err
			}
		}
		if insert := insertCeilings[w.name]; insert != nil {
			c, _, _ := measure(o, svc, insert)
			if c.errors > 0 {
				return res, fmt.Errorf("INSERT ceiling of %s: %d errors", w.name, c.errors)
			}
			out.InsertCeiling = c.perSec()
			out.RatioToInsert = out.ReqPerSec / out.InsertCeiling
		}
		if w.minimal != nil {
			m, _, _ := measure(o, baseline, w.minimal)
			if m.errors > 0 {
				return res, fmt.Errorf("baseline of %s: %d errors", w.name, m.errors)
			}
			out.Minimal, out.MinimalP99ms = m.perSec(), ms(m.quantile(0.99))
			out.RatioToMinimal = out.ReqPerSec / out.Minimal
		}
		res.Results = append(res.Results, out)
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f req/s (its background work drained %.1f s after it)\n", engine, w.name, out.ReqPerSec, out.DrainedSec)
	}
	return res, nil
}
