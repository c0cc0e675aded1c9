package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
)

// workload is one benchmarked request: what drives it over HTTP, and what it is held against.
type workload struct {
	name    string
	http    op
	ceiling op
	minimal op // the hand-written baseline's same request, on PostgreSQL
	// on is the service measured: svc unless set.
	on *service
}

// workloads returns the workloads in the order they run; an op is nil where this run has none
// (no ceiling, no baseline, no cached instance).
func (e *engineRun) workloads() []workload {
	ctx, db, conns, base, cconns, run := e.ctx, e.db, e.conns, e.base, e.cconns, e.run
	token, session, userID := e.admin.token, e.admin.session, e.admin.userID
	ids, times, pick, next := e.ids, e.times, e.pick, e.next
	deep := len(ids) * 9 / 10
	cursor := cursorAfter(times[deep], ids[deep])
	return []workload{
		{"health", func(w int) error { return conns[w].do("GET", "/health", "", "", 200) }, nil,
			e.onBaseline(func(w int) error { return base[w].do("GET", "/health", "", "", 200) }), nil},
		{"register", func(w int) error {
			n := next()
			return conns[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"r%d_%d","email":"r%d_%d@example.com"}`, run, n, run, n), 201)
		}, func(int) error {
			n := next()
			return db.registerWithEvent(ctx, fmt.Sprintf("c%d_%d", run, n), fmt.Sprintf("c%d_%d@example.com", run, n))
		}, e.onBaseline(func(w int) error {
			n := next()
			return base[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"m%d_%d","email":"m%d_%d@example.com"}`, run, n, run, n), 201)
		}), nil},
		// GET /users/{id} reads its caller in the same statement as the user.
		{"get", func(w int) error { return conns[w].do("GET", "/users/"+pick(), token, "", 200) },
			func(int) error {
				return db.run(ctx, "GetCallerAndUser", session, userID, ids[rand.IntN(len(ids))])
			},
			e.onBaseline(func(w int) error { return base[w].do("GET", "/users/"+pick(), "", "", 200) }), nil},
		{"get-cached", e.onCached(func(w int) error { return cconns[w].do("GET", "/users/"+pick(), token, "", 200) }), e.hitRead, nil, e.cached},
		{"list-first", func(w int) error { return conns[w].do("GET", "/users?limit=20", token, "", 200) },
			e.authed(func(int) error { return db.run(ctx, "ListUsersFirst", nil, 21) }), nil, nil},
		{"list-deep", func(w int) error { return conns[w].do("GET", "/users?limit=20&cursor="+cursor, token, "", 200) },
			e.authed(func(int) error { return db.run(ctx, "ListUsersAfter", times[deep], ids[deep], nil, 21) }), nil, nil},
		{"update", func(w int) error {
			return conns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"u%d_%d@example.com"}`, run, next()), 200)
		}, e.pgOnly(e.authed(func(int) error {
			return db.changeWithEvent(ctx, ids[rand.IntN(len(ids))], userevents.TypeUpdated, true, fmt.Sprintf("cu%d_%d@example.com", run, next()))
		})), nil, nil},
		{"update-cached", e.onCached(func(w int) error {
			return cconns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"k%d_%d@example.com"}`, run, next()), 200)
		}), nil, nil, e.cached},
		{"deactivate", func(w int) error {
			return conns[w].do("POST", "/users/"+pick()+"/deactivate", token, "", 200)
		}, e.pgOnly(e.authed(func(int) error {
			id := ids[rand.IntN(len(ids))]
			return db.changeWithEvent(ctx, id, userevents.TypeDeactivated, false, "c_"+id.String()+"@example.com")
		})), e.onBaseline(func(w int) error { return base[w].do("POST", "/users/"+pick()+"/deactivate", "", "", 200) }), nil},
		{"login", func(w int) error {
			return conns[w].do("POST", "/auth/token", "", `{"email":"bench_admin@example.com","password":"bench admin password"}`, 200)
		}, nil, nil, nil},
	}
}

// insertCeiling is register's ceiling before the outbox: the user's INSERT alone, measured
// beside the ceiling of what it runs now, so that the outbox's cost shows in the same run. It
// is nil for the other workloads.
func (e *engineRun) insertCeiling(workload string) op {
	if workload != "register" {
		return nil
	}
	return func(int) error {
		n, now := e.next(), time.Now().UTC()
		return e.db.run(e.ctx, "InsertUser", uuid.Must(uuid.NewV7()), fmt.Sprintf("i%d_%d", e.run, n), fmt.Sprintf("i%d_%d@example.com", e.run, n), true, "user", nil, now, now, nil)
	}
}

// authed is f preceded by what an authenticated request runs first, the account and session
// lookup: the ceiling of a protected workload is that same sequence of statements (GET
// /users/{id} is one statement).
func (e *engineRun) authed(f op) op {
	return func(w int) error {
		if err := e.db.run(e.ctx, "GetCaller", e.admin.session, e.admin.userID); err != nil {
			return err
		}
		return f(w)
	}
}

// pgOnly is f on PostgreSQL and nil on SQLite, whose adapter updates by reading and writing in
// a transaction (see the adapter): no single statement to hold it against.
func (e *engineRun) pgOnly(f op) op {
	if e.engine != "postgres" {
		return nil
	}
	return f
}

// onCached is f when the cached instance runs, nil otherwise.
func (e *engineRun) onCached(f op) op {
	if e.cached == nil {
		return nil
	}
	return f
}

// onBaseline is f when the baseline runs, nil otherwise.
func (e *engineRun) onBaseline(f op) op {
	if e.baseline == nil {
		return nil
	}
	return f
}

// pick is a seeded user's id, at random.
func (e *engineRun) pick() string { return e.ids[rand.IntN(len(e.ids))].String() }

// next is a number no request on this engine had before.
func (e *engineRun) next() int64 { return e.seq.Add(1) }
