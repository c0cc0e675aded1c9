// Package porttest is the contract every users storage adapter must pass: one suite, run
// against PostgreSQL and SQLite alike, so the adapters are interchangeable by proof rather than
// by intent.
package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

// Store is an adapter under test: its autocommit repository and its unit of work, over one
// fresh, empty, migrated database owned by the test (the outbox's tables included).
type Store struct {
	Users    ports.UserRepository
	Sessions ports.SessionRepository
	UoW      ports.UnitOfWork
	// Outbox returns the types of the events in the outbox, in the order they were written.
	Outbox func(t *testing.T) []string
	// Atomicity is what the adapter's unit of work promises when it writes several users.
	Atomicity Atomicity
	// Serial says the adapter runs one unit of work at a time (SQLite's one connection): a
	// test must not make one wait, inside it, for another.
	Serial bool
}

// Atomicity is what a unit of work guarantees when it writes more than one user. Every use
// case of the service writes one user, which every adapter makes atomic.
type Atomicity int

const (
	// AnyUsers: a unit of work is one transaction whatever it writes (the SQL engines).
	AnyUsers Atomicity = iota
	// OneUser: a unit of work is atomic for one user, and one that would write two fails
	// without writing either (MongoDB, whose atomic write is a single document's).
	OneUser
)

// Factory returns a new Store.
type Factory func(t *testing.T) Store

// Run runs the contract suite; every subtest gets its own database from newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"AddThenGetRoundTrips", testAddGet},
		{"GetMissingIsNotFound", testGetMissing},
		{"GetCallerChecksTheSession", testGetCaller},
		{"GetCallerAndReadsBoth", testGetCallerAnd},
		{"SessionsRoundTripNewestFirst", testSessions},
		{"RefreshTokensWorkOnceThenAreReuse", testRefreshTokens},
		{"ConcurrentUsesOfARefreshTokenHaveOneWinner", testConcurrentRefresh},
		{"DeletingSessionsEndsThemAndTheirTokens", testDeleteSessions},
		{"DeletingAUserDeletesItsSessions", testUserDeletionDeletesSessions},
		{"LookupsIgnoreCase", testLookups},
		{"DuplicateEmailOrUsernameIsAlreadyExists", testDuplicates},
		{"ListIsKeysetOrderedAndFiltered", testList},
		{"UpdateSavesEveryField", testUpdate},
		{"UpdateMissingIsNotFound", testUpdateMissing},
		{"UpdateToTakenEmailIsAlreadyExists", testUpdateConflict},
		{"DeleteRemoves", testDelete},
		{"EventsCommitWithTheChange", testEventsCommitWithTheChange},
		{"GetForUpdateReadsInAUnitOfWork", testGetForUpdate},
		{"CallsOutsideAUnitOfWorkWork", testOutsideUoW},
		{"UnitOfWorkRollsBackOnError", testRollbackOnError},
		{"UnitOfWorkRollsBackOnPanic", testRollbackOnPanic},
		{"ConcurrentSameEmailHasOneWinner", testConcurrentAdds},
		{"ConcurrentChangesOfAUserAreAllKept", testConcurrentChanges},
		{"UnitOfWorkOverSeveralUsersKeepsItsPromise", testSeveralUsers},
		{"GetManyReadsTheUsersThatExist", testGetMany},
		{"AdminGuardCountsTheOtherActiveAdmins", testAdminGuard},
		{"AdminsDemotingEachOtherLeaveOne", testAdminsDemotingEachOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func newUser(t *testing.T, username, email string, at time.Time) *domain.User {
	t.Helper()
	u, err := domain.NewUser(uuid.Must(uuid.NewV7()), username, email, at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func do(t *testing.T, uow ports.UnitOfWork, fn func(ctx context.Context, r ports.UserRepository) error) error {
	t.Helper()
	return uow.Do(context.Background(), func(ctx context.Context, r ports.Repos) error { return fn(ctx, r.Users) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// add adds each user in a unit of work of its own.
func add(t *testing.T, uow ports.UnitOfWork, users ...*domain.User) {
	t.Helper()
	for _, u := range users {
		must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Add(ctx, u) }))
	}
}

func get(t *testing.T, uow ports.UnitOfWork, id uuid.UUID) (*domain.User, error) {
	t.Helper()
	var u *domain.User
	err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
		var err error
		u, err = r.Get(ctx, id)
		return err
	})
	return u, err
}

func testAddGet(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	verified := newUser(t, "jane_doe", "jane@example.com", base)
	verified.VerifyEmail(base.Add(time.Second))
	add(t, uow, u, verified)
	for _, want := range []*domain.User{u, verified} {
		got, err := get(t, uow, want.ID())
		must(t, err)
		if got.Snapshot() != want.Snapshot() {
			t.Fatalf("read back %+v, saved %+v", got.Snapshot(), want.Snapshot())
		}
	}
}

func testGetMissing(t *testing.T, s Store) {
	uow := s.UoW
	id := uuid.New()
	_, err := get(t, uow, id)
	var nf *domain.NotFoundError
	if !errors.As(err, &nf) || nf.ID != id {
		t.Fatalf("got %v, want NotFoundError for %s", err, id)
	}
}

// session stores a session of u created at at, living a day, and returns it with its first
// refresh token's digest.
func session(t *testing.T, s Store, u *domain.User, at time.Time) (domain.Session, []byte) {
	t.Helper()
	sess := domain.NewSession(uuid.Must(uuid.NewV7()), u.ID(), "test agent", "192.0.2.1", at, 24*time.Hour)
	digest := []byte(uuid.NewString())
	must(t, s.Sessions.Add(context.Background(), sess, digest))
	return sess, digest
}

func testGetCaller(t *testing.T, s Store) {
	ctx := context.Background()
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, a, b)
	sa, _ := session(t, s, a, base)
	sb, _ := session(t, s, b, base)
	tests := []struct {
		name     string
		c        ports.Credential
		now      time.Time
		wantUser *domain.User
		wantLive bool
	}{
		{"live session", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, base.Add(time.Hour), a, true},
		{"expired session", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, sa.ExpiresAt, a, false},
		{"another user's session", ports.Credential{UserID: a.ID(), SessionID: sb.ID}, base, a, false},
		{"no such session", ports.Credential{UserID: a.ID(), SessionID: uuid.New()}, base, a, false},
		{"no such user", ports.Credential{UserID: uuid.New(), SessionID: sa.ID}, base, nil, false},
	}
	for _, tc := range tests {
		got, err := s.Users.GetCaller(ctx, tc.c)
		must(t, err)
		if got.SessionLive(tc.now) != tc.wantLive || (got.User == nil) != (tc.wantUser == nil) ||
			(got.User != nil && got.User.Snapshot() != tc.wantUser.Snapshot()) {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
}

func testGetCallerAnd(t *testing.T, s Store) {
	ctx := context.Background()
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base.Add(time.Second))
	add(t, s.UoW, a, b)
	sa, _ := session(t, s, a, base)
	missing := uuid.New()
	tests := []struct {
		name       string
		c          ports.Credential
		id         uuid.UUID
		wantCaller *domain.User
		wantLive   bool
		wantUser   *domain.User
	}{
		{"both", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, b.ID(), a, true, b},
		{"the caller themself", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, a.ID(), a, true, a},
		{"user missing", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, missing, a, true, nil},
		{"caller missing", ports.Credential{UserID: missing, SessionID: sa.ID}, b.ID(), nil, false, b},
		{"session of another", ports.Credential{UserID: b.ID(), SessionID: sa.ID}, a.ID(), b, false, a},
		{"both missing", ports.Credential{UserID: missing, SessionID: uuid.New()}, uuid.New(), nil, false, nil},
	}
	same := func(x, y *domain.User) bool {
		return (x == nil) == (y == nil) && (x == nil || x.Snapshot() == y.Snapshot())
	}
	for _, tc := range tests {
		caller, user, err := s.Users.GetCallerAnd(ctx, tc.c, tc.id)
		must(t, err)
		if !same(caller.User, tc.wantCaller) || caller.SessionLive(base.Add(time.Minute)) != tc.wantLive || !same(user, tc.wantUser) {
			t.Errorf("%s: got caller %+v, user %+v", tc.name, caller, user)
		}
	}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	other := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, u, other)
	first, _ := session(t, s, u, base)
	second, _ := session(t, s, u, base.Add(time.Minute))
	session(t, s, other, base)
	got, err := s.Sessions.List(ctx, u.ID(), base.Add(time.Hour))
	must(t, err)
	if len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("listed %+v, want the two sessions newest first: %+v, %+v", got, second, first)
	}
	got, err = s.Sessions.List(ctx, u.ID(), first.ExpiresAt)
	must(t, err)
	if len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("at the first's expiry, listed %+v, want only the second", got)
	}
	must(t, s.Sessions.DeleteExpired(ctx, u.ID(), first.ExpiresAt))
	got, err = s.Sessions.List(ctx, u.ID(), base)
	must(t, err)
	if len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("after deleting expired ones, listed %+v, want only the second", got)
	}
}

func testRefreshTokens(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	sess, digest := session(t, s, u, base)
	used, reused, err := s.Sessions.UseRefreshToken(ctx, digest, base.Add(time.Minute))
	must(t, err)
	if reused || used != sess {
		t.Fatalf("first use: reused %v, session %+v, want %+v", reused, used, sess)
	}
	used.Used("new agent", "198.51.100.7", base.Add(time.Minute))
	next := []byte("the next token's digest")
	must(t, s.Sessions.Refreshed(ctx, used, next))
	again, reused, err := s.Sessions.UseRefreshToken(ctx, digest, base.Add(2*time.Minute))
	must(t, err)
	if !reused || again.ID != sess.ID {
		t.Fatalf("second use: reused %v, session %+v", reused, again)
	}
	latest, reused, err := s.Sessions.UseRefreshToken(ctx, next, base.Add(3*time.Minute))
	must(t, err)
	if reused || latest != used {
		t.Fatalf("the rotated token: reused %v, session %+v, want %+v", reused, latest, used)
	}
	if _, _, err := s.Sessions.UseRefreshToken(ctx, []byte("never issued"), base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.Sessions.Refreshed(ctx, domain.Session{ID: uuid.New(), UserID: u.ID()}, []byte("x")); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("refreshing a missing session: %v", err)
	}
}

func testConcurrentRefresh(t *testing.T, s Store) {
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	_, digest := session(t, s, u, base)
	const n = 16
	var (
		wg    sync.WaitGroup
		fresh atomic.Int32
	)
	for range n {
		wg.Go(func() {
			var reused bool
			err := s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
				var err error
				_, reused, err = r.Sessions.UseRefreshToken(ctx, digest, base.Add(time.Minute))
				return err
			})
			if err != nil {
				t.Error(err)
			} else if !reused {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d of %d concurrent uses got the token as unused, want exactly 1", fresh.Load(), n)
	}
}

func testDeleteSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	other := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, u, other)
	keep, _ := session(t, s, u, base)
	one, oneDigest := session(t, s, u, base)
	two, _ := session(t, s, u, base)
	theirs, _ := session(t, s, other, base)
	if found, err := s.Sessions.Delete(ctx, u.ID(), theirs.ID); err != nil || found {
		t.Fatalf("deleting another user's session: found %v, %v", found, err)
	}
	found, err := s.Sessions.Delete(ctx, u.ID(), one.ID)
	must(t, err)
	if !found {
		t.Fatal("the session to delete was not found")
	}
	if _, _, err := s.Sessions.UseRefreshToken(ctx, oneDigest, base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("a deleted session's token: %v", err)
	}
	if found, _ := s.Sessions.Delete(ctx, u.ID(), one.ID); found {
		t.Fatal("deleted twice")
	}
	ids, err := s.Sessions.DeleteAll(ctx, u.ID(), keep.ID)
	must(t, err)
	if len(ids) != 1 || ids[0] != two.ID {
		t.Fatalf("DeleteAll but one deleted %v, want [%s]", ids, two.ID)
	}
	ids, err = s.Sessions.DeleteAll(ctx, u.ID(), uuid.Nil)
	must(t, err)
	if len(ids) != 1 || ids[0] != keep.ID {
		t.Fatalf("DeleteAll deleted %v, want [%s]", ids, keep.ID)
	}
	left, err := s.Sessions.List(ctx, other.ID(), base)
	must(t, err)
	if len(left) != 1 {
		t.Fatalf("another user's sessions were touched: %+v", left)
	}
}

func testUserDeletionDeletesSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	_, digest := session(t, s, u, base)
	must(t, s.Users.Delete(ctx, u.ID()))
	if _, _, err := s.Sessions.UseRefreshToken(ctx, digest, base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("a deleted user's refresh token: %v", err)
	}
}

func testLookups(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "Mixed_Case", "Mixed.Case@Example.com", base)
	add(t, uow, u)
	must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
		byEmail, err := r.GetByEmail(ctx, "mixed.case@example.COM")
		if err != nil {
			return fmt.Errorf("by email: %w", err)
		}
		if byEmail.ID() != u.ID() {
			return errors.New("lookups found another user")
		}
		var nf *domain.NotFoundError
		if _, err := r.GetByEmail(ctx, "nobody@example.com"); !errors.As(err, &nf) {
			return fmt.Errorf("missing email: got %v, want NotFoundError", err)
		}
		return nil
	}))
}

func testDuplicates(t *testing.T, s Store) {
	uow := s.UoW
	add(t, uow, newUser(t, "john_doe", "john@example.com", base))
	tests := []struct {
		name, username, email string
		field                 domain.Field
	}{
		{"same email", "other", "john@example.com", domain.FieldEmail},
		{"email in other case", "other", "JOHN@Example.com", domain.FieldEmail},
		{"same username", "john_doe", "other@example.com", domain.FieldUsername},
		{"username in other case", "JOHN_DOE", "other@example.com", domain.FieldUsername},
	}
	for _, tc := range tests {
		err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
			return r.Add(ctx, newUser(t, tc.username, tc.email, base))
		})
		var ae *domain.AlreadyExistsError
		if !errors.As(err, &ae) || ae.Field != tc.field {
			t.Errorf("%s: got %v, want AlreadyExistsError on %s", tc.name, err, tc.field)
		}
	}
}

func list(t *testing.T, uow ports.UnitOfWork, q ports.ListQuery) []*domain.User {
	t.Helper()
	var out []*domain.User
	must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
		var err error
		out, err = r.List(ctx, q)
		return err
	}))
	return out
}

func ids(users []*domain.User) []uuid.UUID {
	out := make([]uuid.UUID, len(users))
	for i, u := range users {
		out[i] = u.ID()
	}
	return out
}

func testList(t *testing.T, s Store) {
	uow := s.UoW
	// Five users; two share a timestamp so the id breaks the tie. Inserted out of order.
	users := []*domain.User{
		newUser(t, "user_a", "a@example.com", base),
		newUser(t, "user_b", "b@example.com", base.Add(time.Second)),
		newUser(t, "user_c", "c@example.com", base.Add(time.Second)),
		newUser(t, "user_d", "d@example.com", base.Add(2*time.Second)),
		newUser(t, "user_e", "e@example.com", base.Add(3*time.Second)),
	}
	if users[1].ID().String() > users[2].ID().String() {
		users[1], users[2] = users[2], users[1]
	}
	add(t, uow, users[3], users[0], users[4], users[2], users[1])
	users[3].Deactivate(base.Add(time.Hour))
	must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Update(ctx, users[3]) }))

	wantIDs := ids(users)
	active, inactive := true, false
	tests := []struct {
		name string
		q    ports.ListQuery
		want []uuid.UUID
	}{
		{"all", ports.ListQuery{Limit: 10}, wantIDs},
		{"limited", ports.ListQuery{Limit: 2}, wantIDs[:2]},
		{"after tie", ports.ListQuery{Limit: 10, After: pos(users[1])}, wantIDs[2:]},
		{"after last", ports.ListQuery{Limit: 10, After: pos(users[4])}, []uuid.UUID{}},
		{"active", ports.ListQuery{Limit: 10, IsActive: &active}, []uuid.UUID{wantIDs[0], wantIDs[1], wantIDs[2], wantIDs[4]}},
		{"inactive", ports.ListQuery{Limit: 10, IsActive: &inactive}, []uuid.UUID{wantIDs[3]}},
		{"active after", ports.ListQuery{Limit: 1, After: pos(users[2]), IsActive: &active}, []uuid.UUID{wantIDs[4]}},
	}
	for _, tc := range tests {
		got := ids(list(t, uow, tc.q))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func pos(u *domain.User) *ports.Position {
	return &ports.Position{CreatedAt: u.CreatedAt(), ID: u.ID()}
}

func testUpdate(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	add(t, uow, u)
	name, email := "johnny", "johnny@example.com"
	if _, err := u.Apply(domain.Changes{Username: &name, Email: &email}, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	u.Deactivate(base.Add(time.Hour))
	u.VerifyEmail(base.Add(2 * time.Hour))
	must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Update(ctx, u) }))
	got, err := get(t, uow, u.ID())
	must(t, err)
	if got.Snapshot() != u.Snapshot() {
		t.Fatalf("read back %+v, saved %+v", got.Snapshot(), u.Snapshot())
	}
}

func testUpdateMissing(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Update(ctx, u) })
	var nf *domain.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want NotFoundError", err)
	}
}

func testUpdateConflict(t *testing.T, s Store) {
	uow := s.UoW
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base)
	add(t, uow, a, b)
	taken := "ALICE@example.com"
	if _, err := b.Apply(domain.Changes{Email: &taken}, base); err != nil {
		t.Fatal(err)
	}
	err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Update(ctx, b) })
	var ae *domain.AlreadyExistsError
	if !errors.As(err, &ae) || ae.Field != domain.FieldEmail {
		t.Fatalf("got %v, want AlreadyExistsError on email", err)
	}
}

func testDelete(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	add(t, uow, u)
	must(t, do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Delete(ctx, u.ID()) }))
	var nf *domain.NotFoundError
	if _, err := get(t, uow, u.ID()); !errors.As(err, &nf) {
		t.Fatalf("after delete: got %v, want NotFoundError", err)
	}
	err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Delete(ctx, u.ID()) })
	if !errors.As(err, &nf) {
		t.Fatalf("second delete: got %v, want NotFoundError", err)
	}
	// The email is free again.
	add(t, uow, newUser(t, "john_doe", "john@example.com", base))
}

func testRollbackOnError(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	boom := errors.New("boom")
	err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
		if err := r.Add(ctx, u); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Do returned %v, want the function's error", err)
	}
	var nf *domain.NotFoundError
	if _, err := get(t, uow, u.ID()); !errors.As(err, &nf) {
		t.Fatalf("after rollback: got %v, want NotFoundError", err)
	}
}

func testRollbackOnPanic(t *testing.T, s Store) {
	uow := s.UoW
	u := newUser(t, "john_doe", "john@example.com", base)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not propagate")
			}
		}()
		_ = do(t, uow, func(ctx context.Context, r ports.UserRepository) error {
			if err := r.Add(ctx, u); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	var nf *domain.NotFoundError
	if _, err := get(t, uow, u.ID()); !errors.As(err, &nf) {
		t.Fatalf("after panic: got %v, want NotFoundError", err)
	}
	// The connection went back usable.
	add(t, uow, newUser(t, "jane_doe", "jane@example.com", base))
}

func testConcurrentAdds(t *testing.T, s Store) {
	uow := s.UoW
	const n = 64
	var (
		wg       sync.WaitGroup
		winners  atomic.Int32
		conflict atomic.Int32
		start    = make(chan struct{})
	)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser(t, fmt.Sprintf("racer_%d", i), "race@example.com", base)
			<-start
			err := do(t, uow, func(ctx context.Context, r ports.UserRepository) error { return r.Add(ctx, u) })
			var ae *domain.AlreadyExistsError
			switch {
			case err == nil:
				winners.Add(1)
			case errors.As(err, &ae):
				conflict.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	if winners.Load() != 1 || conflict.Load() != n-1 {
		t.Fatalf("%d winners and %d conflicts, want 1 and %d", winners.Load(), conflict.Load(), n-1)
	}
}

// event is a recorded event of the type about u.
func event(typ string, u *domain.User) ports.Event {
	return ports.Event{Type: typ, Subject: u.ID(), Time: base, Actor: "system", Data: userevents.UserRef{UserID: u.ID()}}
}

// testEventsCommitWithTheChange: the outbox holds an event exactly when its change committed.
func testEventsCommitWithTheChange(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "john_doe", "john@example.com", base)
	must(t, s.Users.Add(ctx, u, event(userevents.TypeRegistered, u)))
	dup := newUser(t, "other", "JOHN@example.com", base)
	if err := s.Users.Add(ctx, dup, event(userevents.TypeRegistered, dup)); !errors.As(err, new(*domain.AlreadyExistsError)) {
		t.Fatalf("duplicate: %v", err)
	}
	errBoom := errors.New("boom")
	err := s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		u.Deactivate(base.Add(time.Hour))
		must(t, r.Users.Update(ctx, u))
		must(t, r.Events.Record(ctx, event(userevents.TypeDeactivated, u)))
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("want the function's error, got %v", err)
	}
	must(t, s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		must(t, r.Users.Delete(ctx, u.ID()))
		return r.Events.Record(ctx, event(userevents.TypeDeleted, u))
	}))
	// Registered and deleted; neither the refused duplicate nor the rolled-back deactivation.
	if got, want := s.Outbox(t), []string{userevents.TypeRegistered, userevents.TypeDeleted}; !slices.Equal(got, want) {
		t.Fatalf("outbox holds %v, want %v", got, want)
	}
}

// testGetForUpdate reads in a unit of work like Get does.
func testGetForUpdate(t *testing.T, s Store) {
	u := newUser(t, "john_doe", "john@example.com", base)
	add(t, s.UoW, u)
	must(t, s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
		got, err := r.Users.GetForUpdate(ctx, u.ID())
		if err != nil || got.Snapshot() != u.Snapshot() {
			t.Fatalf("got %+v %v", got, err)
		}
		if _, err := r.Users.GetForUpdate(ctx, uuid.New()); !errors.As(err, new(*domain.NotFoundError)) {
			t.Fatalf("missing user: %v", err)
		}
		return nil
	}))
}

// testOutsideUoW runs the repository's calls on their own, as the service does for use cases
// of one call: each must be atomic without a surrounding transaction.
func testOutsideUoW(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "john_doe", "john@example.com", base)
	must(t, s.Users.Add(ctx, u))
	if err := s.Users.Add(ctx, newUser(t, "other", "JOHN@example.com", base)); !errors.As(err, new(*domain.AlreadyExistsError)) {
		t.Fatalf("duplicate outside a unit of work: %v", err)
	}
	stored, err := s.Users.Get(ctx, u.ID())
	if err != nil || stored.Snapshot() != u.Snapshot() {
		t.Fatalf("Get: %+v %v", stored, err)
	}
	must(t, s.Users.Delete(ctx, u.ID()))
}

// testConcurrentChanges: units of work changing one user at once each keep their change (on
// MongoDB, where a unit of work writes the user's whole document, none overwrites another's).
func testConcurrentChanges(t *testing.T, s Store) {
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sess := domain.NewSession(uuid.Must(uuid.NewV7()), u.ID(), "agent", "192.0.2.1", base, time.Hour)
			err := s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
				if _, err := r.Users.GetForUpdate(ctx, u.ID()); err != nil {
					return err
				}
				if err := r.Sessions.Add(ctx, sess, []byte(fmt.Sprint("digest ", i))); err != nil {
					return err
				}
				return r.Events.Record(ctx, event(userevents.TypeSessionCreated, u))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Sessions.List(context.Background(), u.ID(), base)
	must(t, err)
	if len(got) != n {
		t.Fatalf("%d sessions after %d concurrent logins", len(got), n)
	}
	if events := s.Outbox(t); len(events) != n {
		t.Fatalf("%d events in the outbox after %d concurrent logins", len(events), n)
	}
}

// testSeveralUsers: a unit of work that writes two users does what the adapter's Atomicity
// says, and a failing one writes neither.
func testSeveralUsers(t *testing.T, s Store) {
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base)
	both := func(ctx context.Context, r ports.UserRepository) error {
		if err := r.Add(ctx, a); err != nil {
			return err
		}
		return r.Add(ctx, b)
	}
	err := do(t, s.UoW, both)
	_, errA := get(t, s.UoW, a.ID())
	_, errB := get(t, s.UoW, b.ID())
	switch s.Atomicity {
	case AnyUsers:
		if err != nil || errA != nil || errB != nil {
			t.Fatalf("adding two users in one unit of work: %v; reading them: %v, %v", err, errA, errB)
		}
	case OneUser:
		if err == nil || errA == nil || errB == nil {
			t.Fatalf("a unit of work writing two users returned %v; reading them: %v, %v; want it refused, writing neither", err, errA, errB)
		}
	}
}

// testGetMany: the batch read (ports.UsersReader, where the repository has it) returns each
// existing user once, whatever the order or repetition of the ids, and skips the ids of no user.
func testGetMany(t *testing.T, s Store) {
	reader, ok := s.Users.(ports.UsersReader)
	if !ok {
		t.Skip("SKIPPED: this repository reads one user at a time (no ports.UsersReader)")
	}
	ann, bob, cyd := newUser(t, "ann", "ann@example.com", base), newUser(t, "bob", "bob@example.com", base), newUser(t, "cyd", "cyd@example.com", base)
	add(t, s.UoW, ann, bob, cyd)
	got, err := reader.GetMany(context.Background(), []uuid.UUID{cyd.ID(), uuid.New(), ann.ID(), cyd.ID()})
	must(t, err)
	byID := map[uuid.UUID]domain.Snapshot{}
	for _, u := range got {
		byID[u.ID()] = u.Snapshot()
	}
	if len(got) != 2 || byID[ann.ID()] != ann.Snapshot() || byID[cyd.ID()] != cyd.Snapshot() {
		t.Fatalf("GetMany read %+v; want ann and cyd once each", byID)
	}
	if got, err := reader.GetMany(context.Background(), nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany of no ids: %v, %v", got, err)
	}
	// More ids than a statement may bind on some engines: the users are found wherever they are.
	many := make([]uuid.UUID, 2500)
	for i := range many {
		many[i] = uuid.New()
	}
	many[0], many[1200], many[1500], many[2499] = ann.ID(), bob.ID(), ann.ID(), cyd.ID()
	if got, err := reader.GetMany(context.Background(), many); err != nil || len(got) != 3 {
		t.Fatalf("GetMany of %d ids, 4 of 3 users: %d users, %v", len(many), len(got), err)
	}
}

// errLastAdmin is what a unit of work of the admin guard's tests returns when the guard says no.
var errLastAdmin = errors.New("no other active admin")

// demoteUnlessLast is the service's use of the guard: it reads the admin for update, asks the
// guard, and demotes only on its yes. before, when set, runs between the read and the guard,
// on the first run of the function only (MongoDB's unit of work may run it again).
func demoteUnlessLast(s Store, id uuid.UUID, before func()) error {
	first := true
	return s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
		u, err := r.Users.GetForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if first && before != nil {
			first = false
			before()
		}
		ok, err := r.Admins.OtherActiveAdmin(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return errLastAdmin
		}
		role := domain.RoleUser
		if _, err := u.Apply(domain.Changes{Role: &role}, base.Add(time.Minute)); err != nil {
			return err
		}
		return r.Users.Update(ctx, u)
	})
}

func admin(t *testing.T, username string) *domain.User {
	t.Helper()
	u := newUser(t, username, username+"@example.com", base)
	u.Promote(base)
	return u
}

// testAdminGuard: the guard counts the active admins but the one asked about, not users nor
// inactive admins; a unit of work that asked and then failed leaves the admin counted.
func testAdminGuard(t *testing.T, s Store) {
	a, b := admin(t, "alice"), admin(t, "bob")
	c := newUser(t, "carol", "carol@example.com", base)
	d := admin(t, "dave")
	d.Deactivate(base)
	add(t, s.UoW, a, b, c, d)
	ask := func(id uuid.UUID) bool {
		t.Helper()
		var ok bool
		must(t, s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
			var err error
			ok, err = r.Admins.OtherActiveAdmin(ctx, id)
			return err
		}))
		return ok
	}
	if !ask(a.ID()) || !ask(b.ID()) {
		t.Fatal("two active admins: each was told no other remains")
	}
	failed := errors.New("failed after asking")
	if err := s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
		if _, err := r.Admins.OtherActiveAdmin(ctx, a.ID()); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if !ask(b.ID()) {
		t.Fatal("a unit of work that asked about alice and failed left her counted as leaving")
	}
	must(t, demoteUnlessLast(s, a.ID(), nil))
	if ask(b.ID()) {
		t.Fatal("bob is the last active admin (carol is a user, dave inactive), and was told another remains")
	}
	if err := demoteUnlessLast(s, b.ID(), nil); !errors.Is(err, errLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if got, err := get(t, s.UoW, b.ID()); err != nil || !got.IsActiveAdmin() {
		t.Fatalf("the last admin after a refused demotion: %+v %v", got, err)
	}
}

// testAdminsDemotingEachOtherLeaveOne: two admins demoting themselves at once, round after
// round, both past their read before either asks the guard (where the adapter lets them run
// side by side): one is demoted, the other told it is the last, never both demoted.
func testAdminsDemotingEachOther(t *testing.T, s Store) {
	a, b := admin(t, "alice"), admin(t, "bob")
	add(t, s.UoW, a, b)
	const rounds = 10
	for round := range rounds {
		var (
			wg      sync.WaitGroup
			arrived sync.WaitGroup
			errs    [2]error
		)
		arrived.Add(2)
		both := make(chan struct{})
		go func() { arrived.Wait(); close(both) }()
		rendezvous := func() {
			arrived.Done()
			select {
			case <-both:
			case <-time.After(10 * time.Second): // only an adapter that should say Serial
				t.Error("the other unit of work never came as far: set Store.Serial for an adapter that runs one at a time")
			}
		}
		if s.Serial {
			rendezvous = nil
		}
		for i, u := range []*domain.User{a, b} {
			wg.Go(func() { errs[i] = demoteUnlessLast(s, u.ID(), rendezvous) })
		}
		wg.Wait()
		demoted := 0
		for i, err := range errs {
			switch {
			case err == nil:
				demoted++
			case !errors.Is(err, errLastAdmin):
				t.Fatalf("round %d, admin %d: %v", round, i, err)
			}
		}
		admins := 0
		for _, u := range []*domain.User{a, b} {
			got, err := get(t, s.UoW, u.ID())
			must(t, err)
			if got.IsActiveAdmin() {
				admins++
			} else {
				must(t, s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
					got.Promote(base.Add(time.Hour))
					return r.Users.Update(ctx, got)
				}))
			}
		}
		if demoted != 1 || admins != 1 {
			t.Fatalf("round %d: %d demoted, %d admins left; want 1 and 1", round, demoted, admins)
		}
	}
}
