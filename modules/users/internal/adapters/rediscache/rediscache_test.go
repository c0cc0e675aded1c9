package rediscache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/users/internal/adapters/postgres"
	"github.com/acme/userservice/modules/users/internal/adapters/rediscache"
	"github.com/acme/userservice/modules/users/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/ports/porttest"
	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/throttle/redistest"
	eventsql "github.com/acme/userservice/queries/events"
)

var ctx = context.Background()

// newCache returns a cache on the Redis at url whose entries live ttl, and its registry.
func newCache(t *testing.T, url string, ttl time.Duration) (*rediscache.Cache, *prometheus.Registry) {
	t.Helper()
	rdb, err := kv.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	c, err := rediscache.New(rdb, ttl, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// stores returns the adapters of a fresh database of the engine, without the cache.
func stores(t *testing.T, engine database.Engine) (ports.UserRepository, ports.SessionRepository, ports.UnitOfWork, *database.DB) {
	t.Helper()
	if engine == database.MongoDB {
		db := mongotest.Open(t, users.Migrations(), eventsql.Migrations().WithMongo(events.MongoIndexes))
		s := mongodb.New(db.Mongo, nil)
		return s.Repository(), s.Sessions(), s.UnitOfWork(), db
	}
	db := dbtest.Open(t, engine, users.Migrations(), eventsql.Migrations())
	if engine == database.Postgres {
		return postgres.NewRepository(db.Pool, nil), postgres.NewSessions(db.Pool), postgres.NewUnitOfWork(db.Pool, nil), db
	}
	return sqlite.NewRepository(db.SQL, nil), sqlite.NewSessions(db.SQL), sqlite.NewUnitOfWork(db.SQL, nil), db
}

// TestContractThroughTheCache runs the adapters' contract suite through the decorators: the
// cache changes nothing a use case can see.
func TestContractThroughTheCache(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c, _ := newCache(t, srv.URL(), time.Minute)
	for _, engine := range append(dbtest.Engines(), database.MongoDB) {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			porttest.Run(t, func(t *testing.T) porttest.Store {
				u, s, w, db := stores(t, engine)
				atomicity := porttest.AnyUsers
				if engine == database.MongoDB {
					atomicity = porttest.OneUser
				}
				return porttest.Store{Users: c.Repository(u), Sessions: c.Sessions(s), UoW: c.UnitOfWork(w),
					Outbox: func(t *testing.T) []string { return outbox(t, db) }, Atomicity: atomicity, Serial: engine == database.SQLite}
			})
		})
	}
}

// TestWritesOnOneInstanceAreSeenOnAnother: two caches (two instances) on one Redis and one
// database; what one commits, the other reads at once, hits or not.
func TestWritesOnOneInstanceAreSeenOnAnother(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			u, s, w, _ := stores(t, engine)
			a, regA := newCache(t, srv.URL(), time.Minute)
			b, _ := newCache(t, srv.URL(), time.Minute)
			usersA, usersB := a.Repository(u), b.Repository(u)
			sessionsB, uowB := b.Sessions(s), b.UnitOfWork(w)

			alice, err := domain.NewUser(uuid.Must(uuid.NewV7()), "alice", "alice@example.com", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := usersA.Add(ctx, alice); err != nil {
				t.Fatal(err)
			}
			sess := domain.NewSession(uuid.Must(uuid.NewV7()), alice.ID(), "ua", "addr", time.Now(), time.Hour)
			if err := s.Add(ctx, sess, []byte("digest")); err != nil {
				t.Fatal(err)
			}
			cred := ports.Credential{UserID: alice.ID(), SessionID: sess.ID}
			for range 2 { // a miss that fills, then a hit
				read, err := usersA.GetCaller(ctx, cred)
				if err != nil || !read.SessionLive(time.Now()) || !read.User.IsActive() {
					t.Fatalf("caller: %+v %v", read, err)
				}
			}
			if hits := count(t, regA, "hit"); hits != 1 {
				t.Fatalf("%v hits, want 1", hits)
			}

			// B deactivates in a unit of work: A's next read sees it.
			err = uowB.Do(ctx, func(ctx context.Context, r ports.Repos) error {
				u, err := r.Users.GetForUpdate(ctx, alice.ID())
				if err != nil {
					return err
				}
				u.Deactivate(time.Now())
				return r.Users.Update(ctx, u)
			})
			if err != nil {
				t.Fatal(err)
			}
			if read, err := usersA.GetCaller(ctx, cred); err != nil || read.User.IsActive() {
				t.Fatalf("after B's deactivation, A reads %+v %v", read.User.Snapshot(), err)
			}

			// B revokes the session: A's next read sees it, though the user is cached again.
			if _, err := usersA.GetCaller(ctx, cred); err != nil {
				t.Fatal(err)
			}
			if found, err := sessionsB.Delete(ctx, alice.ID(), sess.ID); err != nil || !found {
				t.Fatalf("revoke: %v %v", found, err)
			}
			if read, err := usersA.GetCaller(ctx, cred); err != nil || read.SessionLive(time.Now()) {
				t.Fatalf("after B's revocation, A reads the session live: %v", err)
			}

			// B deletes the user: A's reads find nobody.
			if err := usersB.Delete(ctx, alice.ID()); err != nil {
				t.Fatal(err)
			}
			if read, err := usersA.GetCaller(ctx, cred); err != nil || read.User != nil {
				t.Fatalf("after B's deletion, A reads %+v %v", read, err)
			}
		})
	}
}

// TestRedisDownFallsBackToTheDatabase: with Redis stopped, reads are answered from the database
// (none fails); once it is back, the cache serves again.
func TestRedisDownFallsBackToTheDatabase(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	u, s, _, _ := stores(t, database.SQLite)
	c, reg := newCache(t, srv.URL(), 300*time.Millisecond)
	repo := c.Repository(u)
	alice, _ := domain.NewUser(uuid.Must(uuid.NewV7()), "alice", "alice@example.com", time.Now())
	if err := repo.Add(ctx, alice); err != nil {
		t.Fatal(err)
	}
	sess := domain.NewSession(uuid.Must(uuid.NewV7()), alice.ID(), "ua", "addr", time.Now(), time.Hour)
	if err := s.Add(ctx, sess, []byte("digest")); err != nil {
		t.Fatal(err)
	}
	cred := ports.Credential{UserID: alice.ID(), SessionID: sess.ID}
	read := func() {
		t.Helper()
		got, err := repo.GetCaller(ctx, cred)
		if err != nil || got.User == nil || got.User.ID() != alice.ID() || !got.SessionLive(time.Now()) {
			t.Fatalf("read: %+v %v", got, err)
		}
		if _, err := repo.Get(ctx, alice.ID()); err != nil {
			t.Fatal(err)
		}
	}
	read()
	srv.Stop()
	for range 5 {
		read()
	}
	if count(t, reg, "error") == 0 || count(t, reg, "bypass") == 0 {
		t.Fatalf("Redis was down: %v errors, %v bypasses", count(t, reg, "error"), count(t, reg, "bypass"))
	}
	srv.Restart()
	hits := count(t, reg, "hit")
	wait.For(t, 10*time.Second, "the cache to serve again after Redis came back", func() error {
		read()
		if n := count(t, reg, "hit") - hits; n < 2 {
			return fmt.Errorf("%v hits since", n)
		}
		return nil
	})
}

// outbox returns the types of the events in the outbox, in the order they were written.
func outbox(t *testing.T, db *database.DB) []string {
	t.Helper()
	var types []string
	add := func(typ string) { types = append(types, typ) }
	if db.Engine == database.MongoDB {
		evs, err := mongodb.Pending(ctx, db.Mongo)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			add(e.Type)
		}
		return types
	}
	if db.Engine == database.Postgres {
		rows, err := db.Pool.Query(ctx, "SELECT type FROM event_outbox ORDER BY xid, event_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var typ string
			if err := rows.Scan(&typ); err != nil {
				t.Fatal(err)
			}
			add(typ)
		}
		return types
	}
	rows, err := db.SQL.Query("SELECT type FROM event_outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var typ string
		if err := rows.Scan(&typ); err != nil {
			t.Fatal(err)
		}
		add(typ)
	}
	return types
}

// count returns the users_cache_total of result in reg.
func count(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "users_cache_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "result") == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
