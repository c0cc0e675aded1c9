package porttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
			return fmt.Errorf("missing email: got %w, want NotFoundError", err)
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
