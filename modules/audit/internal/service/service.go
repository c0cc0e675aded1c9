// Package service holds the audit module's use cases: recording an entry of the trail for
// each user event, and reading the trail (admins only). It knows nothing of HTTP, SQL or the
// event envelope.
package service

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/ports"
)

// Handler is the name the trail subscribes to user events under.
const Handler = "audit.trail"

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// ErrInvalidCursor is returned by List for a cursor this service did not issue.
var ErrInvalidCursor = errors.New("cursor is not one this service issued")

// Service runs the audit use cases.
type Service struct {
	entries ports.EntryRepository
}

// New returns a Service on entries.
func New(entries ports.EntryRepository) *Service { return &Service{entries: entries} }

// Record stores the entry of an event, once however often the event is delivered.
func (s *Service) Record(ctx context.Context, e domain.Entry) error {
	return s.entries.Record(ctx, Handler, e)
}

// RecordAll stores the entries of several events at once (a relay's batch), once each.
func (s *Service) RecordAll(ctx context.Context, es []domain.Entry) error {
	return s.entries.RecordAll(ctx, Handler, es)
}

// Filter is what a reader of the trail asks for.
type Filter struct {
	Target *uuid.UUID
	Actor  string
	Type   string
	Cursor string
	Limit  int
}

// Page is a page of the trail and the cursor of the next, older one ("" on the last page).
type Page struct {
	Entries    []domain.Entry
	NextCursor string
}

// List returns a page of the trail, newest first, to an admin.
func (s *Service) List(ctx context.Context, admin bool, f Filter) (Page, error) {
	if !admin {
		return Page{}, domain.ErrForbidden
	}
	q := ports.Query{Before: ports.Newest, Target: f.Target, Actor: f.Actor, Type: f.Type, Limit: min(max(f.Limit, 1), MaxPageSize)}
	if f.Cursor != "" {
		var err error
		if q.Before, err = uuid.Parse(f.Cursor); err != nil || q.Before.Version() != 7 {
			return Page{}, ErrInvalidCursor
		}
	}
	limit := q.Limit
	// One more than the page tells whether another page follows.
	q.Limit++
	entries, err := s.entries.List(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		page.NextCursor = entries[limit-1].EventID.String()
	}
	return page, nil
}
