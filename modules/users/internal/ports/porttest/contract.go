// Package porttest is the contract every users storage adapter must pass: one suite, run
// against PostgreSQL, SQLite and MongoDB alike, so the adapters are interchangeable by proof
// rather than by intent.
package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

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
	// AnyUsers means that a unit of work is one transaction whatever it writes (the SQL engines).
	AnyUsers Atomicity = iota
	// OneUser means that a unit of work is atomic for one user, and one that would write two fails
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
		{"GetCallerAndReadsBoth", testGetCallerAndUser},
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
