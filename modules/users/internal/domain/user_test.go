package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))

func TestValidateUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" when valid
	}{
		{"john_doe", ""},
		{"abc", ""},
		{"ABC_123", ""},
		{strings.Repeat("a", 50), ""},
		{"", "must be at least 3 characters"},
		{"ab", "must be at least 3 characters"},
		{strings.Repeat("a", 51), "must be at most 50 characters"},
		{"john doe", "must contain only letters, digits and underscores"},
		{"john-doe", "must contain only letters, digits and underscores"},
		{"jöhn", "must contain only letters, digits and underscores"},
		{"john\n", "must contain only letters, digits and underscores"},
	}
	for _, tc := range tests {
		if got := domain.ValidateUsername(tc.in); got != tc.want {
			t.Errorf("ValidateUsername(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		valid bool
	}{
		{"john@example.com", true},
		{"john.doe+tag@mail.example.co.uk", true},
		{"a_b-c@x-y.io", true},
		{"", false},
		{"john", false},
		{"john@", false},
		{"@example.com", false},
		{"john@example", false},
		{"john doe@example.com", false},
		{"john@exa mple.com", false},
		{"john@@example.com", false},
		{strings.Repeat("a", 243) + "@example.com", false}, // 255 characters
		{strings.Repeat("a", 242) + "@example.com", true},  // 254 characters
	}
	for _, tc := range tests {
		if got := domain.ValidateEmail(tc.in); (got == "") != tc.valid {
			t.Errorf("ValidateEmail(%q) = %q, want valid=%v", tc.in, got, tc.valid)
		}
	}
}

func TestNewUser(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	u, err := domain.NewUser(id, "john_doe", "john@example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	s := u.Snapshot()
	want := domain.Snapshot{
		ID: id, Username: "john_doe", Email: "john@example.com", Active: true, Role: domain.RoleUser,
		CreatedAt: now.UTC().Truncate(time.Microsecond), UpdatedAt: now.UTC().Truncate(time.Microsecond),
	}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if !u.CanReceiveEmail() {
		t.Error("a new user must be able to receive email")
	}
	if domain.Restore(s).Snapshot() != s {
		t.Error("Restore(Snapshot()) must round-trip")
	}
}

func TestNewUserNamesEveryInvalidField(t *testing.T) {
	t.Parallel()
	_, err := domain.NewUser(uuid.New(), "x", "not-an-email", now)
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got %v, want *ValidationError", err)
	}
	if len(verr.Fields) != 2 || verr.Fields[0].Field != "username" || verr.Fields[1].Field != "email" {
		t.Fatalf("fields %+v, want username and email", verr.Fields)
	}
}

func TestDeactivateAndActivateAreIdempotent(t *testing.T) {
	t.Parallel()
	u, _ := domain.NewUser(uuid.New(), "john_doe", "john@example.com", now)
	later := now.Add(time.Hour)
	steps := []struct {
		name        string
		op          func(*domain.User, time.Time) bool
		wantChanged bool
		wantActive  bool
	}{
		{"deactivate", (*domain.User).Deactivate, true, false},
		{"deactivate again", (*domain.User).Deactivate, false, false},
		{"activate", (*domain.User).Activate, true, true},
		{"activate again", (*domain.User).Activate, false, true},
	}
	for i, st := range steps {
		at := later.Add(time.Duration(i) * time.Minute)
		before := u.UpdatedAt()
		changed := st.op(u, at)
		if changed != st.wantChanged || u.IsActive() != st.wantActive || u.CanReceiveEmail() != st.wantActive {
			t.Fatalf("%s: changed=%v active=%v, want %v %v", st.name, changed, u.IsActive(), st.wantChanged, st.wantActive)
		}
		if changed && !u.UpdatedAt().Equal(domain.Timestamp(at)) || !changed && !u.UpdatedAt().Equal(before) {
			t.Fatalf("%s: updated_at %v", st.name, u.UpdatedAt())
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tests := []struct {
		name        string
		changes     domain.Changes
		wantChanged bool
		wantErr     bool
		wantName    string
		wantEmail   string
	}{
		{"nothing", domain.Changes{}, false, false, "john_doe", "john@example.com"},
		{"same values", domain.Changes{Username: str("john_doe")}, false, false, "john_doe", "john@example.com"},
		{"username", domain.Changes{Username: str("johnny")}, true, false, "johnny", "john@example.com"},
		{"both", domain.Changes{Username: str("johnny"), Email: str("j@example.org")}, true, false, "johnny", "j@example.org"},
		{"one invalid changes nothing", domain.Changes{Username: str("johnny"), Email: str("bad")}, false, true, "john_doe", "john@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, _ := domain.NewUser(uuid.New(), "john_doe", "john@example.com", now)
			changed, err := u.Apply(tc.changes, now.Add(time.Hour))
			if (err != nil) != tc.wantErr || changed != tc.wantChanged {
				t.Fatalf("changed=%v err=%v", changed, err)
			}
			if u.Username() != tc.wantName || u.Email() != tc.wantEmail {
				t.Fatalf("got %s %s", u.Username(), u.Email())
			}
		})
	}
}

func TestErrorMessagesMatchTheTutorial(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10")
	tests := []struct {
		err  error
		want string
	}{
		{&domain.NotFoundError{ID: id}, "User 3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10 not found"},
		{&domain.AlreadyExistsError{Field: domain.FieldEmail, Value: "x@y.z"}, "User with email x@y.z already exists"},
		{&domain.AlreadyExistsError{Field: domain.FieldUsername, Value: "bob"}, "User with username bob already exists"},
	}
	for _, tc := range tests {
		if tc.err.Error() != tc.want {
			t.Errorf("got %q, want %q", tc.err.Error(), tc.want)
		}
	}
}
