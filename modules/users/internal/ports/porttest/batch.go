package porttest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
