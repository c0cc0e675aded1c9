package porttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
