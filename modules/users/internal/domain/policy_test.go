package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	self, other := uuid.New(), uuid.New()
	user := domain.Actor{ID: self, Role: domain.RoleUser}
	admin := domain.Actor{ID: uuid.New(), Role: domain.RoleAdmin}
	tests := []struct {
		action    domain.Action
		target    uuid.UUID
		userMay   bool // on self when target is self
		adminMay  bool
		onOthersU bool
	}{
		{domain.ActionRead, self, true, true, false},
		{domain.ActionUpdate, self, true, true, false},
		{domain.ActionDeactivate, self, true, true, false},
		{domain.ActionActivate, self, false, true, false},
		{domain.ActionDelete, self, false, true, false},
		{domain.ActionChangeRole, self, false, true, false},
		{domain.ActionList, uuid.Nil, false, true, false},
	}
	for _, tc := range tests {
		if err := domain.Authorize(user, tc.action, tc.target); (err == nil) != tc.userMay {
			t.Errorf("user %s self: %v", tc.action, err)
		} else if err != nil && !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("user %s: %v is not ErrForbidden", tc.action, err)
		}
		if err := domain.Authorize(user, tc.action, other); (err == nil) != tc.onOthersU {
			t.Errorf("user %s other: %v", tc.action, err)
		}
		if err := domain.Authorize(admin, tc.action, other); (err == nil) != tc.adminMay {
			t.Errorf("admin %s: %v", tc.action, err)
		}
	}
	// A zero actor (no authentication) may do nothing, not even to the zero id.
	if err := domain.Authorize(domain.Actor{}, domain.ActionRead, uuid.Nil); err == nil {
		t.Error("the zero actor read the zero user")
	}
}

func TestAuthorizeChanges(t *testing.T) {
	t.Parallel()
	self := uuid.New()
	user := domain.Actor{ID: self, Role: domain.RoleUser}
	role := domain.RoleAdmin
	name := "newname"
	if err := domain.AuthorizeChanges(user, self, domain.Changes{Username: &name}); err != nil {
		t.Errorf("rename self: %v", err)
	}
	if err := domain.AuthorizeChanges(user, self, domain.Changes{Role: &role}); !errors.Is(err, domain.ErrForbidden) {
		t.Errorf("escalation: %v", err)
	}
	if err := domain.AuthorizeChanges(domain.Actor{Role: domain.RoleAdmin}, self, domain.Changes{Role: &role}); err != nil {
		t.Errorf("admin sets a role: %v", err)
	}
}

// TestValidatePassword: the length rules, then NIST SP 800-63B's: no password of white space
// alone, none on the list of common ones, whatever its case or the space around it.
func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, msg string
	}{
		{"1234567", "must be at least 8 characters"},
		{"12x45678", ""},
		{string(make([]rune, 128)), ""},
		{string(make([]rune, 129)), "must be at most 128 characters"},
		{"ééééééé", "must be at least 8 characters"},
		{"éééééééé", ""},
		{"        ", domain.MsgPasswordWhitespace},
		{" \t\n\r\v\f\u00a0\u2003", domain.MsgPasswordWhitespace},
		{"    x    ", ""},
		{"12345678", domain.MsgPasswordCommon},
		{"password", domain.MsgPasswordCommon},
		{"PassWord1", domain.MsgPasswordCommon},
		{"  iloveyou ", domain.MsgPasswordCommon},
		{"qwertyuiop", domain.MsgPasswordCommon},
		{"correct horse battery staple", ""},
		{"password of a test user", ""},
	}
	for _, tc := range tests {
		if got := domain.ValidatePassword(tc.in); got != tc.msg {
			t.Errorf("ValidatePassword(%q) = %q, want %q", tc.in, got, tc.msg)
		}
	}
}

// TestAdminLoss: only an active admin who stops being one, by role or deactivation, is a loss.
func TestAdminLoss(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	admin := func(active bool) domain.Snapshot {
		return domain.Snapshot{ID: uuid.New(), Username: "root", Email: "root@example.com", Active: active, Role: domain.RoleAdmin}
	}
	demote := func(s domain.Snapshot) *domain.User {
		u := domain.Restore(s)
		user := domain.RoleUser
		if _, err := u.Apply(domain.Changes{Role: &user}, now); err != nil {
			t.Fatal(err)
		}
		return u
	}
	deactivate := func(s domain.Snapshot) *domain.User {
		u := domain.Restore(s)
		u.Deactivate(now)
		return u
	}
	tests := []struct {
		name   string
		before domain.Snapshot
		after  func(domain.Snapshot) *domain.User
		want   domain.Action
	}{
		{"demoted", admin(true), demote, domain.ActionChangeRole},
		{"deactivated", admin(true), deactivate, domain.ActionDeactivate},
		{"renamed", admin(true), domain.Restore, ""},
		{"an inactive admin demoted", admin(false), demote, ""},
		{"a user deactivated", domain.Snapshot{ID: uuid.New(), Active: true, Role: domain.RoleUser}, deactivate, ""},
	}
	for _, tc := range tests {
		if got := domain.AdminLoss(tc.before, tc.after(tc.before)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if msg := (&domain.LastAdminError{Action: domain.ActionDelete}).Error(); msg != "The last active admin cannot be deleted: make another user an admin first" {
		t.Errorf("%q", msg)
	}
}
