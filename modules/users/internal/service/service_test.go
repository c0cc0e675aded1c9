package service_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/password"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/token"
	eventsql "github.com/acme/userservice/queries/events"
)

// fakeClock advances one millisecond per reading, so every user has a distinct, known time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// advance moves the clock forward by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// forEngine runs fn against a service on a fresh database of every engine.
func forEngine(t *testing.T, fn func(t *testing.T, svc *service.Service)) {
	t.Helper()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			fn(t, newService(t, engine))
		})
	}
}

var ctx = context.Background()

// admin is an actor allowed everything, for tests of the use cases themselves. Get reads its
// caller from the store instead, so reads go through a real account (root, or the user).
var admin = domain.Actor{ID: uuid.New(), Role: domain.RoleAdmin}

// root creates an admin account and returns its id.
func root(t *testing.T, svc *service.Service) uuid.UUID {
	t.Helper()
	u, err := svc.CreateAdmin(ctx, service.RegisterInput{Username: "root", Email: "root@example.com", Password: "root password"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID()
}

// as returns the credential of a new session of the user id, as if they had logged in.
func as(t *testing.T, svc *service.Service, id uuid.UUID) ports.Credential {
	t.Helper()
	sess := domain.NewSession(uuid.Must(uuid.NewV7()), id, "test", "192.0.2.1", svc.Clock.Now(), time.Hour)
	if err := svc.Sessions.Add(ctx, sess, []byte(sess.ID.String())); err != nil {
		t.Fatalf("a session of %s: %v", id, err)
	}
	return ports.Credential{UserID: id, SessionID: sess.ID}
}

// loginPolicy blocks an address for an account after 3 failures, for every account after 5,
// and puts an account under back-off after 4 failures from anywhere, for a minute.
var loginPolicy = service.LoginPolicy{SessionTTL: 24 * time.Hour, MaxFailures: 3, MaxFailuresPerAddr: 5, MaxFailuresPerAccount: 4, Lockout: time.Minute}

// newService returns a service on a fresh database of the engine, with cheap password hashing
// and the fake clock driving timestamps, token expiry and the throttle.
func newService(t *testing.T, engine database.Engine) *service.Service {
	t.Helper()
	s, _ := newServiceWithClock(t, engine)
	return s
}

func newServiceWithClock(t *testing.T, engine database.Engine) (*service.Service, *fakeClock) {
	t.Helper()
	return newServiceOn(t, engine, func(now func() time.Time) ports.Throttle { return throttle.New(now) })
}

// newServiceOn is newServiceWithClock with the throttle that throttleOn makes on the fake
// clock.
func newServiceOn(t *testing.T, engine database.Engine, throttleOn func(now func() time.Time) ports.Throttle) (*service.Service, *fakeClock) {
	t.Helper()
	db := dbtest.Open(t, engine, users.Migrations(), eventsql.Migrations())
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	signer, err := token.New([]byte("0123456789abcdef0123456789abcdef"), 15*time.Minute, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	st := storage(t, db)
	return service.New(service.Deps{
		Users:    st.Users,
		Sessions: st.Sessions,
		UoW:      st.UoW,
		Clock:    clock,
		Hasher:   password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}),
		Tokens:   signer,
		Opaque:   token.Opaque{},
		Throttle: throttleOn(clock.Now),
		Policy:   loginPolicy,
	}), clock
}

func register(t *testing.T, svc *service.Service, username, email string) *domain.User {
	t.Helper()
	u, err := svc.Register(ctx, service.RegisterInput{Username: username, Email: email})
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	return u
}

func TestRegister(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		u := register(t, svc, "john_doe", "john@example.com")
		if !u.IsActive() || u.Role() != domain.RoleUser || u.ID().Version() != 7 {
			t.Fatalf("unexpected new user %+v", u.Snapshot())
		}
		got, err := svc.Get(ctx, as(t, svc, u.ID()), u.ID())
		if err != nil || got.Snapshot() != u.Snapshot() {
			t.Fatalf("Get = %+v, %v", got, err)
		}

		_, err = svc.Register(ctx, service.RegisterInput{Username: "other", Email: "John@Example.com"})
		var ae *domain.AlreadyExistsError
		if !errors.As(err, &ae) || err.Error() != "User with email John@Example.com already exists" {
			t.Fatalf("duplicate email: %v", err)
		}
		_, err = svc.Register(ctx, service.RegisterInput{Username: "John_Doe", Email: "other@example.com"})
		if !errors.As(err, &ae) || ae.Field != domain.FieldUsername {
			t.Fatalf("duplicate username: %v", err)
		}
		_, err = svc.Register(ctx, service.RegisterInput{Username: "x", Email: "bad"})
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("invalid input: %v", err)
		}
		page, err := svc.List(ctx, admin, service.ListInput{})
		if err != nil || len(page.Users) != 1 {
			t.Fatalf("after failures there must be one user: %d, %v", len(page.Users), err)
		}
	})
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		id := uuid.New()
		_, err := svc.Get(ctx, as(t, svc, root(t, svc)), id)
		if err == nil || err.Error() != fmt.Sprintf("User %s not found", id) {
			t.Fatalf("got %v", err)
		}
		// A caller with no account is unauthenticated, whatever they read.
		if _, err := svc.Get(ctx, ports.Credential{UserID: id, SessionID: uuid.New()}, id); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("caller without an account: %v", err)
		}
	})
}

func TestListPagesThroughEveryUserOnce(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		var want []uuid.UUID
		for i := range 25 {
			want = append(want, register(t, svc, fmt.Sprintf("user_%02d", i), fmt.Sprintf("u%d@example.com", i)).ID())
		}
		var got []uuid.UUID
		cursor, pages := "", 0
		for {
			page, err := svc.List(ctx, admin, service.ListInput{Limit: 10, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, u := range page.Users {
				got = append(got, u.ID())
			}
			if pages == 1 {
				// Users registered mid-listing come after every existing one: no skips, no repeats.
				want = append(want, register(t, svc, "late_comer", "late@example.com").ID())
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
			t.Fatalf("%d pages\n got %v\nwant %v", pages, got, want)
		}
	})
}

func TestListFiltersAndRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		a := register(t, svc, "alice", "alice@example.com")
		register(t, svc, "bob", "bob@example.com")
		if _, err := svc.Deactivate(ctx, admin, a.ID()); err != nil {
			t.Fatal(err)
		}
		inactive := false
		page, err := svc.List(ctx, admin, service.ListInput{IsActive: &inactive})
		if err != nil || len(page.Users) != 1 || page.Users[0].ID() != a.ID() || page.NextCursor != "" {
			t.Fatalf("inactive filter: %+v %v", page, err)
		}
		for _, cursor := range []string{"garbage", "AAAA", "!!"} {
			if _, err := svc.List(ctx, admin, service.ListInput{Cursor: cursor}); !errors.Is(err, service.ErrInvalidCursor) {
				t.Errorf("cursor %q: got %v", cursor, err)
			}
		}
		var ve *domain.ValidationError
		if _, err := svc.List(ctx, admin, service.ListInput{Limit: 101}); !errors.As(err, &ve) {
			t.Errorf("limit 101: got %v", err)
		}
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		alice := register(t, svc, "alice", "alice@example.com")
		bob := register(t, svc, "bob", "bob@example.com")
		name, email := "bobby", "bobby@example.com"
		u, err := svc.Update(ctx, admin, bob.ID(), domain.Changes{Username: &name, Email: &email})
		if err != nil || u.Username() != name || u.Email() != email || !u.UpdatedAt().After(bob.UpdatedAt()) {
			t.Fatalf("update: %+v %v", u, err)
		}

		// Taking alice's email fails as a whole: the username change is rolled back too.
		newName, taken := "robert", "ALICE@example.com"
		_, err = svc.Update(ctx, admin, bob.ID(), domain.Changes{Username: &newName, Email: &taken})
		var ae *domain.AlreadyExistsError
		if !errors.As(err, &ae) {
			t.Fatalf("taken email: %v", err)
		}
		got, _ := svc.Get(ctx, as(t, svc, bob.ID()), bob.ID())
		if got.Username() != "bobby" || got.Email() != "bobby@example.com" {
			t.Fatalf("failed update left %s %s", got.Username(), got.Email())
		}
		var nf *domain.NotFoundError
		if _, err := svc.Update(ctx, admin, uuid.New(), domain.Changes{Username: &newName}); !errors.As(err, &nf) {
			t.Fatalf("missing user: %v", err)
		}
		bad := "no spaces"
		var ve *domain.ValidationError
		if _, err := svc.Update(ctx, admin, alice.ID(), domain.Changes{Username: &bad}); !errors.As(err, &ve) {
			t.Fatalf("invalid username: %v", err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		u := register(t, svc, "john_doe", "john@example.com")
		reader := root(t, svc)
		tests := []struct {
			name       string
			op         func(context.Context, domain.Actor, uuid.UUID) (*domain.User, error)
			wantActive bool
		}{
			{"deactivate", svc.Deactivate, false},
			{"deactivate again", svc.Deactivate, false},
			{"activate", svc.Activate, true},
			{"activate again", svc.Activate, true},
		}
		for _, tc := range tests {
			got, err := tc.op(ctx, admin, u.ID())
			if err != nil || got.IsActive() != tc.wantActive {
				t.Fatalf("%s: %+v %v", tc.name, got, err)
			}
			stored, _ := svc.Get(ctx, as(t, svc, reader), u.ID())
			if stored.IsActive() != tc.wantActive {
				t.Fatalf("%s: stored active=%v", tc.name, stored.IsActive())
			}
		}
		var nf *domain.NotFoundError
		if _, err := svc.Deactivate(ctx, admin, uuid.New()); !errors.As(err, &nf) {
			t.Fatalf("deactivate missing: %v", err)
		}
		if err := svc.Delete(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if err := svc.Delete(ctx, admin, u.ID()); !errors.As(err, &nf) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

// TestDeleteRunsTheOtherModulesHooksFirst: the user_deleted hooks run after authorization and
// before the account goes; a failing hook fails the deletion and keeps the account, so that
// the retry runs every hook again.
func TestDeleteRunsTheOtherModulesHooksFirst(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		u := register(t, svc, "john_doe", "john@example.com")
		reader := root(t, svc)
		var ran []uuid.UUID
		failures := 1
		errHook := errors.New("the other module's store is down")
		svc.BeforeDelete = []ports.DeletionHook{
			func(_ context.Context, id uuid.UUID) error { ran = append(ran, id); return nil },
			func(context.Context, uuid.UUID) error {
				if failures > 0 {
					failures--
					return errHook
				}
				return nil
			},
		}
		self := domain.Actor{ID: u.ID(), Role: domain.RoleUser}
		if err := svc.Delete(ctx, self, u.ID()); !errors.As(err, new(*domain.ForbiddenError)) || len(ran) != 0 {
			t.Fatalf("a user deletes themself: %v, hooks ran %d times", err, len(ran))
		}
		if err := svc.Delete(ctx, admin, u.ID()); !errors.Is(err, errHook) {
			t.Fatalf("delete with a failing hook: %v", err)
		}
		if _, err := svc.Get(ctx, as(t, svc, reader), u.ID()); err != nil {
			t.Fatalf("the account went although a hook failed: %v", err)
		}
		if err := svc.Delete(ctx, admin, u.ID()); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if len(ran) != 2 || ran[0] != u.ID() || ran[1] != u.ID() {
			t.Fatalf("hooks ran for %v, want twice for %s", ran, u.ID())
		}
		if _, err := svc.Get(ctx, as(t, svc, reader), u.ID()); !errors.As(err, new(*domain.NotFoundError)) {
			t.Fatalf("after the retry: %v", err)
		}
	})
}

// storage returns the users module's adapters for db's engine, without a relay to signal.
func storage(t testing.TB, db *database.DB) users.Storage {
	t.Helper()
	st, err := users.NewStorage(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
