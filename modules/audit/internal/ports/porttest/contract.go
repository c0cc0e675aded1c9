// Package porttest is the contract every audit storage adapter must pass: one suite, run
// against PostgreSQL, SQLite and MongoDB alike.
package porttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/ports"
	userevents "github.com/acme/userservice/modules/users/events"
)

// Factory returns a repository over a fresh, empty, migrated database owned by the test (the
// events platform's tables included).
type Factory func(t *testing.T) ports.EntryRepository

// Run runs the contract suite; every subtest gets its own database from newRepo.
func Run(t *testing.T, newRepo Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r ports.EntryRepository)
	}{
		{"RecordThenListRoundTrips", testRoundTrip},
		{"ARedeliveredEventIsRecordedOnce", testOnce},
		{"RecordAllRecordsEachOnce", testRecordAll},
		{"ListIsNewestFirstFilteredAndPaged", testList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newRepo(t))
		})
	}
}

var (
	ctx  = context.Background()
	base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
)

func entry(t *testing.T, typ, actor string, target uuid.UUID, updated ...string) domain.Entry {
	t.Helper()
	e, err := domain.NewEntry(uuid.Must(uuid.NewV7()), typ, actor, target, "req-1", updated, base)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func list(t *testing.T, r ports.EntryRepository, q ports.Query) []domain.Entry {
	t.Helper()
	if q.Before == uuid.Nil {
		q.Before = ports.Newest
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	got, err := r.List(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func same(t *testing.T, got, want domain.Entry) {
	t.Helper()
	if got.EventID != want.EventID || got.Type != want.Type || got.Actor != want.Actor || got.Target != want.Target ||
		got.RequestID != want.RequestID || !slices.Equal(got.Changed, want.Changed) || !got.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func testRoundTrip(t *testing.T, r ports.EntryRepository) {
	e := entry(t, userevents.TypeUpdated, "self", uuid.New(), "username", "email")
	if err := r.Record(ctx, "audit.test", e); err != nil {
		t.Fatal(err)
	}
	got := list(t, r, ports.Query{})
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	same(t, got[0], e)
	deleted := entry(t, userevents.TypeDeleted, "system", uuid.New())
	if err := r.Record(ctx, "audit.test", deleted); err != nil {
		t.Fatal(err)
	}
	if got := list(t, r, ports.Query{Type: deleted.Type}); len(got) != 1 || len(got[0].Changed) != 0 {
		t.Fatalf("deleted: %+v", got)
	}
}

func testOnce(t *testing.T, r ports.EntryRepository) {
	e := entry(t, userevents.TypeRegistered, "self", uuid.New())
	for range 3 {
		if err := r.Record(ctx, "audit.test", e); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(t, r, ports.Query{}); len(got) != 1 {
		t.Fatalf("%d entries for one event", len(got))
	}
}

func testList(t *testing.T, r ports.EntryRepository) {
	alice, bob, admin := uuid.New(), uuid.New(), uuid.New()
	var all []domain.Entry
	for _, e := range []domain.Entry{
		entry(t, userevents.TypeRegistered, "self", alice),
		entry(t, userevents.TypeRegistered, "self", bob),
		entry(t, userevents.TypeDeactivated, admin.String(), alice),
		entry(t, userevents.TypeUpdated, bob.String(), bob, "email"),
		entry(t, userevents.TypeDeleted, admin.String(), alice),
	} {
		if err := r.Record(ctx, "audit.test", e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	slices.Reverse(all) // newest first
	var paged []domain.Entry
	for q := (ports.Query{Before: ports.Newest, Limit: 2}); ; {
		page := list(t, r, q)
		paged = append(paged, page...)
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].EventID
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d entries, want %d", len(paged), len(all))
	}
	for i := range all {
		same(t, paged[i], all[i])
	}
	ids := func(es []domain.Entry) []uuid.UUID {
		var out []uuid.UUID
		for _, e := range es {
			out = append(out, e.EventID)
		}
		return out
	}
	tests := []struct {
		name string
		q    ports.Query
		want []domain.Entry
	}{
		{"about alice", ports.Query{Target: &alice}, []domain.Entry{all[0], all[2], all[4]}},
		{"by the admin", ports.Query{Actor: admin.String()}, []domain.Entry{all[0], all[2]}},
		{"registrations", ports.Query{Type: userevents.TypeRegistered}, []domain.Entry{all[3], all[4]}},
		{"bob by himself", ports.Query{Target: &bob, Actor: bob.String()}, []domain.Entry{all[1]}},
	}
	for _, tc := range tests {
		if got := list(t, r, tc.q); !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, ids(got), ids(tc.want))
		}
	}
}

func testRecordAll(t *testing.T, r ports.EntryRepository) {
	a := entry(t, userevents.TypeRegistered, "self", uuid.New())
	b := entry(t, userevents.TypeDeleted, "system", a.Target)
	if err := r.Record(ctx, "audit.test", a); err != nil {
		t.Fatal(err)
	}
	// A batch redelivered with one event already recorded: each stays recorded once.
	for range 2 {
		if err := r.RecordAll(ctx, "audit.test", []domain.Entry{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	got := list(t, r, ports.Query{})
	if len(got) != 2 {
		t.Fatalf("%d entries, want 2", len(got))
	}
	same(t, got[0], b)
	same(t, got[1], a)
}
