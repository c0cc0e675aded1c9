package porttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

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
