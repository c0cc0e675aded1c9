package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
	userevents "github.com/acme/userservice/modules/users/events"
)

func TestNewEntryRecordsFieldNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ     string
		updated []string
		want    []string
		err     error
	}{
		{userevents.TypeRegistered, nil, []string{"username", "email", "role", "is_active"}, nil},
		{userevents.TypeUpdated, []string{"email"}, []string{"email"}, nil},
		{userevents.TypeRoleChanged, nil, []string{"role"}, nil},
		{userevents.TypeDeactivated, nil, []string{"is_active"}, nil},
		{userevents.TypePasswordChanged, nil, []string{"password"}, nil},
		{userevents.TypeDeleted, nil, []string{}, nil},
		{"userservice.note.created.v1", nil, nil, domain.ErrNotAudited},
	}
	for _, tc := range tests {
		e, err := domain.NewEntry(uuid.New(), tc.typ, "self", uuid.New(), "r", tc.updated, time.Now())
		if !errors.Is(err, tc.err) {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if err == nil && !slices.Equal(e.Changed, tc.want) {
			t.Errorf("%s: changed %v, want %v", tc.typ, e.Changed, tc.want)
		}
	}
	if len(domain.Types()) != 14 {
		t.Errorf("types %v", domain.Types())
	}
}
