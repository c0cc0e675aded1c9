// Package httpapi implements the Users operation group of openapi.yaml (the module's part is
// ../api.yaml) on top of the users service. It maps ogen's request types to
// use-case inputs and domain users to ogen's response types, and describes the module's errors
// as problems; generated types never go further in.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Handler implements oas.UsersHandler.
type Handler struct {
	svc        *service.Service
	registered prometheus.Counter
	logins     *prometheus.CounterVec
}

var _ oas.UsersHandler = (*Handler)(nil)

// New returns a handler running the use cases of svc, counting registrations and login
// outcomes in reg.
func New(svc *service.Service, reg prometheus.Registerer) (*Handler, error) {
	h := &Handler{
		svc: svc,
		registered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "users_registered_total",
			Help: "Users who registered themselves.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "users_logins_total",
			Help: "Login attempts by result: ok, failed or throttled.",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{h.registered, h.logins} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// credential returns what the request's verified token says.
func credential(ctx context.Context) (ports.Credential, error) {
	c, err := identity.CredentialFrom(ctx)
	if err != nil {
		return ports.Credential{}, err
	}
	return ports.Credential{UserID: c.Subject, SessionID: c.Session}, nil
}

// client describes the device the request comes from.
func client(ctx context.Context) service.Client {
	return service.Client{UserAgent: httpserver.UserAgent(ctx), Addr: httpserver.ClientAddr(ctx)}
}

// caller returns the authenticated user: the subject of the token the platform verified, whose
// account must exist and be active, and whose session must still be live.
func (h *Handler) caller(ctx context.Context) (*domain.User, error) {
	c, err := credential(ctx)
	if err != nil {
		return nil, err
	}
	return h.svc.Caller(ctx, c)
}

// actor returns the authenticated caller as the actor of a use case.
func (h *Handler) actor(ctx context.Context) (domain.Actor, error) {
	u, err := h.caller(ctx)
	if err != nil {
		return domain.Actor{}, err
	}
	return u.Actor(), nil
}

// RegisterUser handles POST /users.
func (h *Handler) RegisterUser(ctx context.Context, req *oas.RegisterUserRequest) (oas.RegisterUserRes, error) {
	u, err := h.svc.Register(ctx, service.RegisterInput{
		Username:   string(req.Username),
		Email:      string(req.Email),
		Password:   string(req.Password.Or("")),
		ClientAddr: httpserver.ClientAddr(ctx),
	})
	if err != nil {
		return nil, err
	}
	h.registered.Inc()
	return &oas.UserHeaders{Location: "/users/" + u.ID().String(), Response: toAPI(u)}, nil
}

// CreateToken handles POST /auth/token.
func (h *Handler) CreateToken(ctx context.Context, req *oas.TokenRequest) (oas.CreateTokenRes, error) {
	tok, err := h.svc.Login(ctx, service.LoginInput{Email: req.Email, Password: req.Password, Client: client(ctx)})
	var throttled *service.ThrottledError
	switch {
	case err == nil:
		h.logins.WithLabelValues("ok").Inc()
	case errors.Is(err, service.ErrInvalidCredentials):
		h.logins.WithLabelValues("failed").Inc()
	case errors.As(err, &throttled):
		h.logins.WithLabelValues("throttled").Inc()
	}
	if err != nil {
		return nil, err
	}
	return tokenOf(tok), nil
}

func tokenOf(tok service.Token) *oas.Token {
	return &oas.Token{
		AccessToken:  tok.Value,
		TokenType:    oas.TokenTokenTypeBearer,
		ExpiresIn:    int(tok.ExpiresIn.Seconds()),
		RefreshToken: tok.RefreshToken,
	}
}

// RefreshToken handles POST /auth/refresh.
func (h *Handler) RefreshToken(ctx context.Context, req *oas.RefreshRequest) (oas.RefreshTokenRes, error) {
	tok, err := h.svc.Refresh(ctx, req.RefreshToken, client(ctx))
	if err != nil {
		return nil, err
	}
	return tokenOf(tok), nil
}

// Logout handles POST /auth/logout.
func (h *Handler) Logout(ctx context.Context) (oas.LogoutRes, error) {
	c, err := h.checkedCredential(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Logout(ctx, c); err != nil {
		return nil, err
	}
	return &oas.LogoutNoContent{}, nil
}

// checkedCredential authenticates the request (as caller does) and returns its credential.
func (h *Handler) checkedCredential(ctx context.Context) (ports.Credential, error) {
	c, err := credential(ctx)
	if err != nil {
		return ports.Credential{}, err
	}
	if _, err := h.svc.Caller(ctx, c); err != nil {
		return ports.Credential{}, err
	}
	return c, nil
}

// ListMySessions handles GET /users/me/sessions.
func (h *Handler) ListMySessions(ctx context.Context) (oas.ListMySessionsRes, error) {
	c, err := h.checkedCredential(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := h.svc.ListSessions(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	out := &oas.SessionList{Items: make([]oas.Session, len(sessions))}
	for i, s := range sessions {
		out.Items[i] = oas.Session{
			SessionID:  s.ID,
			UserAgent:  s.UserAgent,
			ClientAddr: s.ClientAddr,
			CreatedAt:  s.CreatedAt,
			LastUsedAt: s.LastUsedAt,
			ExpiresAt:  s.ExpiresAt,
			Current:    s.ID == c.SessionID,
		}
	}
	return out, nil
}

// RevokeMySession handles DELETE /users/me/sessions/{session_id}.
func (h *Handler) RevokeMySession(ctx context.Context, params oas.RevokeMySessionParams) (oas.RevokeMySessionRes, error) {
	c, err := h.checkedCredential(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.RevokeSession(ctx, c.UserID, params.SessionID); err != nil {
		return nil, err
	}
	return &oas.RevokeMySessionNoContent{}, nil
}

// RevokeMyOtherSessions handles DELETE /users/me/sessions.
func (h *Handler) RevokeMyOtherSessions(ctx context.Context) (oas.RevokeMyOtherSessionsRes, error) {
	c, err := h.checkedCredential(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.RevokeOtherSessions(ctx, c); err != nil {
		return nil, err
	}
	return &oas.RevokeMyOtherSessionsNoContent{}, nil
}

// RevokeUserSessions handles DELETE /users/{user_id}/sessions.
func (h *Handler) RevokeUserSessions(ctx context.Context, params oas.RevokeUserSessionsParams) (oas.RevokeUserSessionsRes, error) {
	a, err := h.actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.RevokeUserSessions(ctx, a, params.UserID); err != nil {
		return nil, err
	}
	return &oas.RevokeUserSessionsNoContent{}, nil
}

// MarkEmailVerified handles POST /users/{user_id}/verify-email.
func (h *Handler) MarkEmailVerified(ctx context.Context, params oas.MarkEmailVerifiedParams) (oas.MarkEmailVerifiedRes, error) {
	return h.one(ctx, func(a domain.Actor) (*domain.User, error) { return h.svc.MarkEmailVerified(ctx, a, params.UserID) })
}

// GetMe handles GET /users/me: the caller, as read to authenticate this request.
func (h *Handler) GetMe(ctx context.Context) (oas.GetMeRes, error) {
	u, err := h.caller(ctx)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// ChangePassword handles POST /users/me/password.
func (h *Handler) ChangePassword(ctx context.Context, req *oas.ChangePasswordRequest) (oas.ChangePasswordRes, error) {
	a, err := h.actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.ChangePassword(ctx, a, req.CurrentPassword, string(req.NewPassword), httpserver.ClientAddr(ctx)); err != nil {
		return nil, err
	}
	return &oas.ChangePasswordNoContent{}, nil
}

// GetUser handles GET /users/{user_id}; the use case reads the caller with the user.
func (h *Handler) GetUser(ctx context.Context, params oas.GetUserParams) (oas.GetUserRes, error) {
	c, err := credential(ctx)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Get(ctx, c, params.UserID)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

// ListUsers handles GET /users.
func (h *Handler) ListUsers(ctx context.Context, params oas.ListUsersParams) (oas.ListUsersRes, error) {
	a, err := h.actor(ctx)
	if err != nil {
		return nil, err
	}
	in := service.ListInput{Limit: params.Limit.Or(service.DefaultPageSize), Cursor: params.Cursor.Or("")}
	if v, ok := params.IsActive.Get(); ok {
		in.IsActive = &v
	}
	page, err := h.svc.List(ctx, a, in)
	if err != nil {
		return nil, err
	}
	out := &oas.UserPage{Items: make([]oas.User, len(page.Users))}
	for i, u := range page.Users {
		out.Items[i] = toAPI(u)
	}
	if page.NextCursor == "" {
		out.NextCursor.SetToNull()
	} else {
		out.NextCursor.SetTo(page.NextCursor)
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
	if v, ok := req.Role.Get(); ok {
		r := domain.Role(v)
		c.Role = &r
	}
	return h.one(ctx, func(a domain.Actor) (*domain.User, error) { return h.svc.Update(ctx, a, params.UserID, c) })
}

// DeactivateUser handles POST /users/{user_id}/deactivate.
func (h *Handler) DeactivateUser(ctx context.Context, params oas.DeactivateUserParams) (oas.DeactivateUserRes, error) {
	return h.one(ctx, func(a domain.Actor) (*domain.User, error) { return h.svc.Deactivate(ctx, a, params.UserID) })
}

// ActivateUser handles POST /users/{user_id}/activate.
func (h *Handler) ActivateUser(ctx context.Context, params oas.ActivateUserParams) (oas.ActivateUserRes, error) {
	return h.one(ctx, func(a domain.Actor) (*domain.User, error) { return h.svc.Activate(ctx, a, params.UserID) })
}

// DeleteUser handles DELETE /users/{user_id}.
func (h *Handler) DeleteUser(ctx context.Context, params oas.DeleteUserParams) (oas.DeleteUserRes, error) {
	a, err := h.actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Delete(ctx, a, params.UserID); err != nil {
		return nil, err
	}
	return &oas.DeleteUserNoContent{}, nil
}

// one runs a use case that returns one user as the authenticated actor and renders the user.
func (h *Handler) one(ctx context.Context, run func(domain.Actor) (*domain.User, error)) (*oas.User, error) {
	a, err := h.actor(ctx)
	if err != nil {
		return nil, err
	}
	u, err := run(a)
	if err != nil {
		return nil, err
	}
	out := toAPI(u)
	return &out, nil
}

func toAPI(u *domain.User) oas.User {
	out := oas.User{
		UserID:        u.ID(),
		Username:      oas.Username(u.Username()),
		Email:         oas.Email(u.Email()),
		IsActive:      u.IsActive(),
		Role:          oas.Role(u.Role()),
		EmailVerified: u.EmailVerified(),
		CreatedAt:     u.CreatedAt(),
	}
	if u.EmailVerified() {
		out.EmailVerifiedAt.SetTo(u.EmailVerifiedAt())
	} else {
		out.EmailVerifiedAt.SetToNull()
	}
	return out
}

// Problem describes the users module's errors for HTTP; the platform calls it for every error
// a handler returns (it is a problem.Mapper).
func Problem(err error) (*problem.Problem, bool) {
	var (
		invalid   *domain.ValidationError
		notFound  *domain.NotFoundError
		exists    *domain.AlreadyExistsError
		forbidden *domain.ForbiddenError
		throttled *service.ThrottledError
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
	case errors.Is(err, service.ErrUnauthenticated):
		// The reason (expired, bad signature, deactivated) stays in the logs, not the answer.
		p := problem.New(http.StatusUnauthorized, "A valid bearer token is required.")
		p.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
		return p, true
	case errors.Is(err, service.ErrInvalidRefreshToken):
		p := problem.New(http.StatusUnauthorized, "The refresh token is not valid (unknown, already used, or of an ended session): log in again.")
		p.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
		return p, true
	case errors.Is(err, service.ErrSessionNotFound):
		return problem.New(http.StatusNotFound, "You have no session with this id."), true
	case errors.Is(err, service.ErrInvalidCredentials):
		// RFC 9110: every 401 names the scheme that would work.
		p := problem.New(http.StatusUnauthorized, "Invalid email or password.")
		p.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
		return p, true
	case errors.As(err, &forbidden):
		return problem.New(http.StatusForbidden, forbidden.Error()+"."), true
	case errors.Is(err, service.ErrEmailNotVerified):
		return problem.New(http.StatusForbidden, "Verify your email address before logging in: follow the link mailed to it, or ask for a new one."), true
	case errors.Is(err, service.ErrWrongPassword):
		return problem.New(http.StatusForbidden, "The current password is wrong.",
			problem.FieldError{Field: "current_password", Message: "is wrong"}), true
	case errors.As(err, &throttled):
		p := problem.New(http.StatusTooManyRequests, "Too many "+throttled.What()+"; retry after "+
			strconv.Itoa(throttled.RetryAfterSeconds())+" seconds.")
		p.Headers = map[string]string{"Retry-After": strconv.Itoa(throttled.RetryAfterSeconds())}
		return p, true
	}
	return nil, false
}
