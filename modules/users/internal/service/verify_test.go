package service_test

import (
	"errors"
	"testing"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/service"
)

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		u := register(t, svc, "alice", "alice@example.com")
		got, err := svc.VerifyEmail(ctx, u.ID(), "ALICE@example.com")
		if err != nil || !got.EmailVerified() {
			t.Fatalf("verify with the address the proof went to: %+v %v", got, err)
		}
		again, err := svc.VerifyEmail(ctx, u.ID(), "alice@example.com")
		if err != nil || again.EmailVerifiedAt() != got.EmailVerifiedAt() {
			t.Fatalf("verify twice: %v, at %v then %v", err, got.EmailVerifiedAt(), again.EmailVerifiedAt())
		}
		moved := "alice@elsewhere.example"
		if _, err := svc.Update(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleUser}, u.ID(), domain.Changes{Email: &moved}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.VerifyEmail(ctx, u.ID(), "alice@example.com"); !errors.Is(err, service.ErrEmailChanged) {
			t.Fatalf("a proof sent to the old address: %v", err)
		}
		if _, err := svc.MarkEmailVerified(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleUser}, u.ID()); !errors.Is(err, domain.ErrForbidden) {
			t.Fatalf("a user marks their own email verified: %v", err)
		}
		var nf *domain.NotFoundError
		if _, err := svc.MarkEmailVerified(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.VerifyEmail(ctx, [16]byte{1}, "x@example.com"); !errors.As(err, &nf) {
			t.Fatalf("an unknown user: %v", err)
		}
	})
}

// TestProofsOfADeactivatedUserDoNothing: a link mailed before a deactivation neither verifies
// the address nor sets the password, which a reactivation would otherwise revive.
func TestProofsOfADeactivatedUserDoNothing(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		u := register(t, svc, "alice", "alice@example.com")
		if _, err := svc.Deactivate(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.VerifyEmail(ctx, u.ID(), "alice@example.com"); !errors.Is(err, service.ErrDeactivated) {
			t.Fatalf("verify a deactivated user's address: %v", err)
		}
		if err := svc.ResetPassword(ctx, u.ID(), "alice@example.com", "a password by mail"); !errors.Is(err, service.ErrDeactivated) {
			t.Fatalf("reset a deactivated user's password: %v", err)
		}
		if _, err := svc.Activate(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := login(svc, "alice@example.com", "a password by mail", "192.0.2.1"); err == nil {
			t.Fatal("the password set while deactivated works")
		}
		// An admin may still mark it verified: that is no proof by mail.
		if _, err := svc.Deactivate(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if got, err := svc.MarkEmailVerified(ctx, admin, u.ID()); err != nil || !got.EmailVerified() {
			t.Fatalf("an admin marks a deactivated user's address verified: %v", err)
		}
	})
}
