// Package httpapi implements the Audit operation group of openapi.yaml (the module's part is
// ../api.yaml) on top of the audit service: who calls comes from the platform's identity port,
// and the module's errors are described as problems.
package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/service"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Handler implements oas.AuditHandler.
type Handler struct {
	svc      *service.Service
	identity *identity.Resolver
}

var _ oas.AuditHandler = (*Handler)(nil)

// New returns a handler running the use cases of svc for the callers identity resolves.
func New(svc *service.Service, identity *identity.Resolver) *Handler {
	return &Handler{svc: svc, identity: identity}
}

// ListAuditEvents handles GET /audit-events.
func (h *Handler) ListAuditEvents(ctx context.Context, params oas.ListAuditEventsParams) (oas.ListAuditEventsRes, error) {
	caller, err := h.identity.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f := service.Filter{
		Actor: params.ActorID.Or(""), Type: params.Type.Or(""), Cursor: params.After.Or(""),
		Limit: params.Limit.Or(service.DefaultPageSize),
	}
	if id, ok := params.UserID.Get(); ok {
		f.Target = &id
	}
	page, err := h.svc.List(ctx, caller.IsAdmin(), f)
	if err != nil {
		return nil, err
	}
	out := &oas.AuditEventPage{Items: make([]oas.AuditEvent, len(page.Entries))}
	for i, e := range page.Entries {
		out.Items[i] = oas.AuditEvent{
			EventID: e.EventID, Type: e.Type, Actor: e.Actor, UserID: e.Target, RequestID: e.RequestID,
			Changed: e.Changed, OccurredAt: e.OccurredAt,
		}
	}
	if page.NextCursor == "" {
		out.NextCursor.SetToNull()
	} else {
		out.NextCursor.SetTo(page.NextCursor)
	}
	return out, nil
}

// Problem describes the module's errors for HTTP (a problem.Mapper).
func Problem(err error) (*problem.Problem, bool) {
	switch {
	case errors.Is(err, domain.ErrForbidden):
		return problem.New(http.StatusForbidden, "Only admins may read the audit trail."), true
	case errors.Is(err, service.ErrInvalidCursor):
		return problem.New(http.StatusBadRequest, "Parameter after is invalid: use the next_cursor of a previous page.",
			problem.FieldError{Field: "after", Message: "is not a cursor this service issued"}), true
	}
	return nil, false
}
