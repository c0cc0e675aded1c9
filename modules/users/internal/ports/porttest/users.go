package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
