// Package httpapi implements the Notifications operation group of openapi.yaml (the module's
// part is ../api.yaml) on top of the notifications service, and describes the module's errors
// as problems.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Handler implements oas.NotificationsHandler.
type Handler struct {
	svc      *service.Service
	identity *identity.Resolver
}

var _ oas.NotificationsHandler = (*Handler)(nil)

// New returns a handler running the use cases of svc; identity says who calls.
func New(svc *service.Service, identity *identity.Resolver) *Handler {
	return &Handler{svc: svc, identity: identity}
}

// VerifyEmail handles POST /auth/verify-email.
func (h *Handler) VerifyEmail(ctx context.Context, req *oas.VerifyEmailRequest) (oas.VerifyEmailRes, error) {
	if err := h.svc.VerifyEmail(ctx, string(req.Token)); err != nil {
		return nil, err
	}
	return &oas.VerifyEmailNoContent{}, nil
}

// SendVerificationEmail handles POST /users/me/verification-email.
func (h *Handler) SendVerificationEmail(ctx context.Context) (oas.SendVerificationEmailRes, error) {
	caller, err := h.identity.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.ResendVerification(ctx, caller.ID, httpserver.ClientAddr(ctx)); err != nil {
		return nil, err
	}
	return &oas.SendVerificationEmailAccepted{}, nil
}

// RequestPasswordReset handles POST /auth/password-reset.
func (h *Handler) RequestPasswordReset(ctx context.Context, req *oas.PasswordResetRequest) (oas.RequestPasswordResetRes, error) {
	if err := h.svc.RequestPasswordReset(ctx, req.Email, httpserver.ClientAddr(ctx)); err != nil {
		return nil, err
	}
	return &oas.Accepted{Status: oas.AcceptedStatusAccepted}, nil
}

// ConfirmPasswordReset handles POST /auth/password-reset/confirm.
func (h *Handler) ConfirmPasswordReset(ctx context.Context, req *oas.ConfirmPasswordResetRequest) (oas.ConfirmPasswordResetRes, error) {
	if err := h.svc.ConfirmPasswordReset(ctx, string(req.Token), req.NewPassword); err != nil {
		return nil, err
	}
	return &oas.ConfirmPasswordResetNoContent{}, nil
}

// Problem describes the module's errors for HTTP (a problem.Mapper).
func Problem(err error) (*problem.Problem, bool) {
	var (
		throttled *service.ThrottledError
		password  *ports.PasswordError
	)
	switch {
	case errors.Is(err, domain.ErrInvalidToken):
		// One answer for unknown, used, expired and other-purpose tokens: which one it was
		// would help nobody but a guesser.
		return problem.New(http.StatusBadRequest, "The token is invalid or has expired: ask for a new mail.",
			problem.FieldError{Field: "token", Message: "is invalid or has expired"}), true
	case errors.Is(err, service.ErrAlreadyVerified):
		return problem.New(http.StatusConflict, "Your email address is already verified."), true
	case errors.As(err, &password):
		return problem.New(http.StatusUnprocessableEntity, "The new password is not acceptable: "+password.Message+".",
			problem.FieldError{Field: "new_password", Message: password.Message}), true
	case errors.As(err, &throttled):
		p := problem.New(http.StatusTooManyRequests, "Too many mails asked for; retry after "+
			strconv.Itoa(throttled.RetryAfterSeconds())+" seconds.")
		p.Headers = map[string]string{"Retry-After": strconv.Itoa(throttled.RetryAfterSeconds())}
		return p, true
	}
	return nil, false
}
