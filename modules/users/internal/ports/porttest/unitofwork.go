package porttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
