package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit"
	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/service"
	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
)

var ctx = context.Background()

func TestTrailIsForAdminsPagedNewestFirst(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			svc, err := audit.NewService(dbtest.Open(t, engine, audit.Migrations(), eventsql.Migrations()))
			if err != nil {
				t.Fatal(err)
			}
			user := uuid.New()
			var ids []uuid.UUID
			for _, typ := range []string{userevents.TypeRegistered, userevents.TypeDeactivated, userevents.TypeActivated} {
				e, err := domain.NewEntry(uuid.Must(uuid.NewV7()), typ, "system", user, "", nil, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if err := svc.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
				ids = append([]uuid.UUID{e.EventID}, ids...)
			}
			if _, err := svc.List(ctx, false, service.Filter{}); !errors.Is(err, domain.ErrForbidden) {
				t.Fatalf("a non-admin reads: %v", err)
			}
			first, err := svc.List(ctx, true, service.Filter{Limit: 2})
			if err != nil || len(first.Entries) != 2 || first.NextCursor == "" || first.Entries[0].EventID != ids[0] {
				t.Fatalf("first page: %+v %v", first, err)
			}
			second, err := svc.List(ctx, true, service.Filter{Limit: 2, Cursor: first.NextCursor})
			if err != nil || len(second.Entries) != 1 || second.NextCursor != "" || second.Entries[0].EventID != ids[2] {
				t.Fatalf("second page: %+v %v", second, err)
			}
			if _, err := svc.List(ctx, true, service.Filter{Cursor: "garbage"}); !errors.Is(err, service.ErrInvalidCursor) {
				t.Fatalf("garbage cursor: %v", err)
			}
		})
	}
}
