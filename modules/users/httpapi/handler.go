// Package httpapi implements the Users operation group of openapi.yaml on top of the users
// service. It maps ogen's request types to use-case inputs and domain users to ogen's response
// types, and describes the module's errors as problems; generated types never go further in.
package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/acme/userservice/modules/users/domain"
	"github.com/acme/userservice/modules/users/service"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Handler implements oas.UsersHandler.
type Handler struct {
	svc *service.Service
}

var _ oas.UsersHandler = (*Handler)(nil)

// New returns a handler running the use cases of svc.
func New(svc *service.Service) *Handler {
	return &Handler{svc: svc}
}

// RegisterUser handles POST /users.
func (h *Handler) RegisterUser(ctx context.Context, req *oas.RegisterUserRequest) (oas.RegisterUserRes, error) {
	u, err := h.svc.Register(ctx, service.RegisterInput{Username: string(req.Username), Email: string(req.Email)})
	if err != nil {
		return nil, err
	}
	return &oas.UserHeaders{Location: "/users/" + u.ID().String(), Response: toAPI(u)}, nil
}

// GetUser handles GET /users/{user_id}.
func (h *Handler) GetUser(ctx context.Context, params oas.GetUserParams) (oas.GetUserRes, error) {
	u, err := h.svc.Get(ctx, params.UserID)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// ListUsers handles GET /users.
func (h *Handler) ListUsers(ctx context.Context, params oas.ListUsersParams) (oas.ListUsersRes, error) {
	in := service.ListInput{Limit: params.Limit.Or(service.DefaultPageSize), Cursor: params.Cursor.Or("")}
	if v, ok := params.IsActive.Get(); ok {
		in.IsActive = &v
	}
	page, err := h.svc.List(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &oas.UserPage{Items: make([]oas.User, len(page.Users))}
	for i, u := range page.Users {
		out.Items[i] = toAPI(u)
	}
	if page.NextCursor == "" {
		out.NextCursor = oas.NewNilString("")
		out.NextCursor.SetToNull()
	} else {
		out.NextCursor = oas.NewNilString(page.NextCursor)
	}
	return out, nil
}

// UpdateUser handles PATCH /users/{user_id}.
func (h *Handler) UpdateUser(ctx context.Context, req *oas.UpdateUserRequest, params oas.UpdateUserParams) (oas.UpdateUserRes, error) {
	var c domain.Changes
	if v, ok := req.Username.Get(); ok {
		s := string(v)
		c.Username = &s
	}
	if v, ok := req.Email.Get(); ok {
		s := string(v)
		c.Email = &s
	}
	u, err := h.svc.Update(ctx, params.UserID, c)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// DeactivateUser handles POST /users/{user_id}/deactivate.
func (h *Handler) DeactivateUser(ctx context.Context, params oas.DeactivateUserParams) (oas.DeactivateUserRes, error) {
	u, err := h.svc.Deactivate(ctx, params.UserID)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// ActivateUser handles POST /users/{user_id}/activate.
func (h *Handler) ActivateUser(ctx context.Context, params oas.ActivateUserParams) (oas.ActivateUserRes, error) {
	u, err := h.svc.Activate(ctx, params.UserID)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// DeleteUser handles DELETE /users/{user_id}.
func (h *Handler) DeleteUser(ctx context.Context, params oas.DeleteUserParams) (oas.DeleteUserRes, error) {
	if err := h.svc.Delete(ctx, params.UserID); err != nil {
		return nil, err
	}
	return &oas.DeleteUserNoContent{}, nil
}

func toAPI(u *domain.User) oas.User {
	return oas.User{
		UserID:    u.ID(),
		Username:  oas.Username(u.Username()),
		Email:     oas.Email(u.Email()),
		IsActive:  u.IsActive(),
		Role:      oas.Role(u.Role()),
		CreatedAt: u.CreatedAt(),
	}
}

// Problem describes the users module's errors for HTTP; the platform calls it for every error
// a handler returns (it is a problem.Mapper).
func Problem(err error) (*problem.Problem, bool) {
	var (
		invalid  *domain.ValidationError
		notFound *domain.NotFoundError
		exists   *domain.AlreadyExistsError
	)
	switch {
	case errors.As(err, &invalid):
		fields := make([]problem.FieldError, len(invalid.Fields))
		for i, f := range invalid.Fields {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		return problem.New(http.StatusUnprocessableEntity, invalid.Error(), fields...), true
	case errors.As(err, &notFound):
		return problem.New(http.StatusNotFound, notFound.Error()), true
	case errors.As(err, &exists):
		return problem.New(http.StatusConflict, exists.Error(),
			problem.FieldError{Field: string(exists.Field), Message: "is already taken"}), true
	case errors.Is(err, service.ErrInvalidCursor):
		return problem.New(http.StatusBadRequest, "Parameter cursor is invalid: use the next_cursor of a previous page.",
			problem.FieldError{Field: "cursor", Message: "is not a cursor this service issued"}), true
	}
	return nil, false
}
