// Package service holds the users module's use cases. Each use case is one unit of work: it
// loads users through the repository port, applies domain rules, and saves the result
// atomically. It knows nothing of HTTP or SQL.
package service

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/domain"
	"github.com/acme/userservice/modules/users/ports"
)

// Clock tells the time; tests replace it to control timestamps.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Page sizes of List.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// ErrInvalidCursor is returned by List for a cursor this service did not issue.
var ErrInvalidCursor = errors.New("cursor is not one this service issued")

// Service runs the users use cases.
type Service struct {
	uow   ports.UnitOfWork
	clock Clock
}

// New returns a Service that runs its use cases in units of work from uow.
func New(uow ports.UnitOfWork, clock Clock) *Service {
	return &Service{uow: uow, clock: clock}
}

// RegisterInput is what a new user gives.
type RegisterInput struct {
	Username string
	Email    string
}

// Register creates an active user. A taken email or username is a *domain.AlreadyExistsError,
// decided by the database's unique index so that concurrent registrations have one winner.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*domain.User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	u, err := domain.NewUser(id, in.Username, in.Email, s.clock.Now())
	if err != nil {
		return nil, err
	}
	err = s.uow.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		return r.Users.Add(ctx, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Get returns the user with the id, or a *domain.NotFoundError.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	var u *domain.User
	err := s.uow.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		var err error
		u, err = r.Users.Get(ctx, id)
		return err
	})
	return u, err
}

// ListInput selects a page of users.
type ListInput struct {
	// Limit is the page size: 0 means DefaultPageSize; at most MaxPageSize.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first page.
	Cursor string
	// IsActive, when set, keeps only users in that state.
	IsActive *bool
}

// Page is one page of users.
type Page struct {
	Users []*domain.User
	// NextCursor continues the listing; it is "" on the last page.
	NextCursor string
}

// List returns one page of users in registration order. Pages are keyset-paginated on
// (created_at, id), so a page costs the same however deep it is and no user is skipped or
// repeated when users register between pages.
func (s *Service) List(ctx context.Context, in ListInput) (Page, error) {
	limit := in.Limit
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return Page{}, &domain.ValidationError{Fields: []domain.FieldError{
			{Field: "limit", Message: "must be between 1 and 100"},
		}}
	}
	q := ports.ListQuery{Limit: limit + 1, IsActive: in.IsActive}
	if in.Cursor != "" {
		pos, err := decodeCursor(in.Cursor)
		if err != nil {
			return Page{}, err
		}
		q.After = &pos
	}
	var users []*domain.User
	err := s.uow.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		var err error
		users, err = r.Users.List(ctx, q)
		return err
	})
	if err != nil {
		return Page{}, err
	}
	// One extra row tells whether another page exists without a COUNT.
	page := Page{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		last := page.Users[limit-1]
		page.NextCursor = encodeCursor(ports.Position{CreatedAt: last.CreatedAt(), ID: last.ID()})
	}
	return page, nil
}

// Update applies changes to the user's username and email.
func (s *Service) Update(ctx context.Context, id uuid.UUID, c domain.Changes) (*domain.User, error) {
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, error) {
		return u.Apply(c, now)
	})
}

// Deactivate makes the user inactive; deactivating an inactive user is not an error.
func (s *Service) Deactivate(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, error) {
		return u.Deactivate(now), nil
	})
}

// Activate makes the user active; activating an active user is not an error.
func (s *Service) Activate(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, error) {
		return u.Activate(now), nil
	})
}

// Delete removes the user, or returns a *domain.NotFoundError.
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	return s.uow.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		return r.Users.Delete(ctx, id)
	})
}

// change loads a user, applies fn and saves the user if fn changed it, all in one unit of work.
func (s *Service) change(ctx context.Context, id uuid.UUID, fn func(*domain.User, time.Time) (bool, error)) (*domain.User, error) {
	var u *domain.User
	err := s.uow.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		var err error
		if u, err = r.Users.Get(ctx, id); err != nil {
			return err
		}
		changed, err := fn(u, s.clock.Now())
		if err != nil || !changed {
			return err
		}
		return r.Users.Update(ctx, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
