package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/httpapi"
	"github.com/acme/userservice/modules/users/internal/service"
)

func TestProblem(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10")
	tests := []struct {
		name   string
		err    error
		status int
		detail string
		field  string
	}{
		{"validation", &domain.ValidationError{Fields: []domain.FieldError{{Field: "email", Message: "bad"}}},
			http.StatusUnprocessableEntity, "invalid user: email bad", "email"},
		{"not found", fmt.Errorf("get: %w", &domain.NotFoundError{ID: id}),
			http.StatusNotFound, "User 3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10 not found", ""},
		{"exists", &domain.AlreadyExistsError{Field: domain.FieldEmail, Value: "a@b.c"},
			http.StatusConflict, "User with email a@b.c already exists", "email"},
		{"cursor", fmt.Errorf("%w: x", service.ErrInvalidCursor),
			http.StatusBadRequest, "Parameter cursor is invalid: use the next_cursor of a previous page.", "cursor"},
	}
	tests = append(tests, []struct {
		name   string
		err    error
		status int
		detail string
		field  string
	}{
		{"unauthenticated", fmt.Errorf("%w: expired", service.ErrUnauthenticated), http.StatusUnauthorized, "A valid bearer token is required.", ""},
		{"bad credentials", service.ErrInvalidCredentials, http.StatusUnauthorized, "Invalid email or password.", ""},
		{"forbidden", &domain.ForbiddenError{Action: domain.ActionDelete}, http.StatusForbidden, "You may not delete this user.", ""},
		{"wrong password", service.ErrWrongPassword, http.StatusForbidden, "The current password is wrong.", "current_password"},
		{"throttled", &service.ThrottledError{RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, "Too many failed attempts; retry after 2 seconds.", ""},
	}...)
	for _, tc := range tests {
		p, ok := httpapi.Problem(tc.err)
		if !ok || p.Status != tc.status || p.Detail != tc.detail {
			t.Errorf("%s: got %+v", tc.name, p)
			continue
		}
		if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
			t.Errorf("%s: fields %+v", tc.name, p.Errors)
		}
	}
	if _, ok := httpapi.Problem(errors.New("other")); ok {
		t.Error("errors of other modules are not ours to map")
	}
}

func TestProblemHeaders(t *testing.T) {
	t.Parallel()
	p, _ := httpapi.Problem(service.ErrUnauthenticated)
	if p.Headers["WWW-Authenticate"] != "Bearer" {
		t.Errorf("401 headers %v", p.Headers)
	}
	p, _ = httpapi.Problem(&service.ThrottledError{RetryAfter: 90 * time.Second})
	if p.Headers["Retry-After"] != "90" {
		t.Errorf("429 headers %v", p.Headers)
	}
}
