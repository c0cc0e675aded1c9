package service_test

import (
	"errors"
	"testing"

	"github.com/acme/userservice/modules/users/domain"
	"github.com/acme/userservice/modules/users/service"
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
