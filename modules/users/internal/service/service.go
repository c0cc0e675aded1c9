// Package service holds the users module's use cases. Each use case checks the actor's rights
// with the domain policy, validates with the domain's rules, and changes storage atomically:
// with one repository call (one statement, no transaction needed) or, when it needs several,
// in one unit of work. It knows nothing of HTTP or SQL.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
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

// Deps are the ports the service runs on.
type Deps struct {
	// Users runs each call as one atomic statement, outside any transaction: most use cases
	// need exactly one, and a transaction around it would triple the round trips.
	Users ports.UserRepository
	// Sessions, like Users, runs each call as one statement.
	Sessions ports.SessionRepository
	// UoW makes several calls atomic, for the use cases that need more than one.
	UoW      ports.UnitOfWork
	Clock    Clock
	Hasher   ports.PasswordHasher
	Tokens   ports.TokenIssuer
	Opaque   ports.OpaqueTokens
	Throttle ports.Throttle
	Policy   LoginPolicy
	// Registrations limits registrations per client address.
	Registrations RegistrationPolicy
	// BeforeDelete are the other modules' reactions to a user's deletion, run before it.
	BeforeDelete []ports.DeletionHook
}

// Service runs the users use cases.
type Service struct {
	Deps
	// dummyHash is verified against when a login names no usable account, so that such a
	// login costs what a wrong password costs and timing does not reveal which accounts exist.
	dummyHash func() (string, error)
}

// New returns a Service on deps.
func New(deps Deps) *Service {
	return &Service{
		Deps:      deps,
		dummyHash: sync.OnceValues(func() (string, error) { return deps.Hasher.Hash("no such account, no such password") }),
	}
}

// RegisterInput is what a new user gives.
type RegisterInput struct {
	Username string
	Email    string
	// Password is optional: "" registers a user who cannot log in until one is set.
	Password string
	// ClientAddr is where a self-registration comes from: its registrations are limited.
	ClientAddr string
}

// RegistrationPolicy limits self-registrations: each asks for a mail to an address its caller
// chose, and each answer tells whether an email or username is taken, so unthrottled they are
// a mail cannon and a fast way to list accounts.
type RegistrationPolicy struct {
	// MaxPerAddr registrations from one client address (an IPv6 client's /64) within Window;
	// 0 means no limit.
	MaxPerAddr int
	Window     time.Duration
}

// Register creates an active user with role user. A taken email or username is a
// *domain.AlreadyExistsError, decided by the database's unique index so that concurrent
// registrations have one winner. Every attempt counts against its client address's
// registrations, those refused included (a 409 is what an enumeration wants); past the
// policy's limit the answer is a *ThrottledError.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*domain.User, error) {
	if p := s.Registrations; p.MaxPerAddr > 0 {
		if wait := s.Throttle.Allow("register:"+network(in.ClientAddr), "", p.MaxPerAddr, p.Window); wait > 0 {
			return nil, &ThrottledError{RetryAfter: wait, Of: "registrations from your address"}
		}
	}
	u, err := s.newUser(in)
	if err != nil {
		return nil, err
	}
	if err := s.Users.Add(ctx, u, registered(u, ActorSelf)); err != nil {
		return nil, err
	}
	return u, nil
}

// The actors of events that are not a user.
const (
	// ActorSelf is someone registering themself, without an account yet.
	ActorSelf = "self"
	// ActorSystem is an operator's command.
	ActorSystem = "system"
)

// registered is the event of u's registration.
func registered(u *domain.User, actor string) ports.Event {
	return ports.Event{Type: userevents.TypeRegistered, Subject: u.ID(), Time: u.CreatedAt(), Actor: actor, Data: userevents.Registered{
		UserID: u.ID(), Username: u.Username(), Email: u.Email(), Role: string(u.Role()), IsActive: u.IsActive(),
	}}
}

// userEvent is an event about the user id whose payload is only the id.
func userEvent(typ string, id uuid.UUID, at time.Time, actor domain.Actor) ports.Event {
	return ports.Event{Type: typ, Subject: id, Time: at, Actor: actor.ID.String(), Data: userevents.UserRef{UserID: id}}
}

// CreateAdmin creates an active admin with a password, whose email counts as verified: the
// operator vouches for it, and an admin must be able to log in when REQUIRE_VERIFIED_EMAIL is on
// and before any mail works. It has no actor: only trusted operators reach it (the admin CLI,
// with access to the database).
func (s *Service) CreateAdmin(ctx context.Context, in RegisterInput) (*domain.User, error) {
	if in.Password == "" {
		return nil, &domain.ValidationError{Fields: []domain.FieldError{{Field: "password", Message: "is required for an admin"}}}
	}
	u, err := s.newUser(in)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	u.Promote(now)
	u.VerifyEmail(now)
	if err := s.Users.Add(ctx, u, registered(u, ActorSystem)); err != nil {
		return nil, err
	}
	return u, nil
}

// newUser validates in (every invalid field at once) and hashes the password outside any
// transaction: hashing is deliberately slow and must not hold a connection.
func (s *Service) newUser(in RegisterInput) (*domain.User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	u, err := domain.NewUser(id, in.Username, in.Email, now)
	var verr *domain.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return nil, err
	}
	if in.Password != "" {
		if msg := domain.ValidatePassword(in.Password); msg != "" {
			if verr == nil {
				verr = &domain.ValidationError{}
			}
			verr.Fields = append(verr.Fields, domain.FieldError{Field: "password", Message: msg})
		}
	}
	if verr != nil {
		return nil, verr
	}
	if in.Password != "" {
		hash, err := s.Hasher.Hash(in.Password)
		if err != nil {
			return nil, err
		}
		u.SetPasswordHash(hash, now)
	}
	return u, nil
}

// Get returns the user with the id to the caller, whose verified token says c: the user
// themself or an admin may read, a missing user is a *domain.NotFoundError. The caller's
// account, their session and the user are read in one statement, so the most frequent request
// costs one round trip to the database, not two; the caller is checked as Caller checks it.
func (s *Service) Get(ctx context.Context, c ports.Credential, id uuid.UUID) (*domain.User, error) {
	caller, target, err := s.Users.GetCallerAnd(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if err := usable(caller, c, s.Clock.Now()); err != nil {
		return nil, err
	}
	if err := domain.Authorize(caller.User.Actor(), domain.ActionRead, id); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, &domain.NotFoundError{ID: id}
	}
	return target, nil
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

// List returns one page of users in registration order (admins only). Pages are
// keyset-paginated on (created_at, id), so a page costs the same however deep it is and no
// user is skipped or repeated when users register between pages.
func (s *Service) List(ctx context.Context, actor domain.Actor, in ListInput) (Page, error) {
	if err := domain.Authorize(actor, domain.ActionList, uuid.Nil); err != nil {
		return Page{}, err
	}
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
	users, err := s.Users.List(ctx, q)
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

// Update applies changes to the user's username, email and (admins only) role, recording an
// updated event for a new username or email and a role_changed event for a new role.
func (s *Service) Update(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.Changes) (*domain.User, error) {
	if err := domain.AuthorizeChanges(actor, id, c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		before := u.Snapshot()
		changed, err := u.Apply(c, now)
		if err != nil || !changed {
			return false, nil, err
		}
		var evs []ports.Event
		upd := userevents.Updated{UserID: id}
		if u.Username() != before.Username {
			upd.Changed, upd.Username = append(upd.Changed, "username"), u.Username()
		}
		if u.Email() != before.Email {
			upd.Changed, upd.Email = append(upd.Changed, "email"), u.Email()
		}
		if len(upd.Changed) > 0 {
			evs = append(evs, ports.Event{Type: userevents.TypeUpdated, Subject: id, Time: now, Actor: actor.ID.String(), Data: upd})
		}
		if u.Role() != before.Role {
			evs = append(evs, ports.Event{Type: userevents.TypeRoleChanged, Subject: id, Time: now, Actor: actor.ID.String(),
				Data: userevents.RoleChanged{UserID: id, From: string(before.Role), To: string(u.Role())}})
		}
		return true, evs, nil
	})
}

// Deactivate makes the user inactive (the user themself or an admin) and ends their sessions:
// their tokens stop working at their next request, and activating them again revives none.
// Deactivating an inactive user is not an error, and records no event.
func (s *Service) Deactivate(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.User, error) {
	if err := domain.Authorize(actor, domain.ActionDeactivate, id); err != nil {
		return nil, err
	}
	return s.changeRevoking(ctx, id, &revocation{userevents.RevokedDeactivated, actor.ID.String()}, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		if !u.Deactivate(now) {
			return false, nil, nil
		}
		return true, []ports.Event{userEvent(userevents.TypeDeactivated, id, now, actor)}, nil
	})
}

// Activate makes the user active (admins only); activating an active user is not an error.
func (s *Service) Activate(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.User, error) {
	if err := domain.Authorize(actor, domain.ActionActivate, id); err != nil {
		return nil, err
	}
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		if !u.Activate(now) {
			return false, nil, nil
		}
		return true, []ports.Event{userEvent(userevents.TypeActivated, id, now, actor)}, nil
	})
}

// ErrEmailChanged is returned by VerifyEmail when the user's address is no longer the one the
// proof was sent to.
var ErrEmailChanged = errors.New("the email changed since the verification was sent")

// ErrDeactivated is returned by VerifyEmail and ResetPassword for a deactivated user: a proof
// mailed before the deactivation does nothing.
var ErrDeactivated = errors.New("the user is deactivated")

// proofHolds returns why what a user proved by mail to sentTo does nothing now, if it does not:
// the address changed since, or the user was deactivated.
func proofHolds(u *domain.User, sentTo string) error {
	switch {
	case !strings.EqualFold(u.Email(), sentTo):
		return ErrEmailChanged
	case !u.IsActive():
		return ErrDeactivated
	}
	return nil
}

// MarkEmailVerified marks the user's current email verified (admins only); a verified email
// stays as it is, with no event.
func (s *Service) MarkEmailVerified(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.User, error) {
	if err := domain.Authorize(actor, domain.ActionVerifyEmail, id); err != nil {
		return nil, err
	}
	return s.verifyEmail(ctx, id, "", actor.ID.String())
}

// VerifyEmail marks verified the email of the user who proved they receive mail at email (they
// used a token sent there): if the address changed since, it is ErrEmailChanged, and
// ErrDeactivated for a deactivated user. The actor of the event is the user.
func (s *Service) VerifyEmail(ctx context.Context, id uuid.UUID, email string) (*domain.User, error) {
	return s.verifyEmail(ctx, id, email, id.String())
}

// verifyEmail marks the email verified, provided it is still sentTo when that is set.
func (s *Service) verifyEmail(ctx context.Context, id uuid.UUID, sentTo, actor string) (*domain.User, error) {
	return s.change(ctx, id, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		if sentTo != "" {
			if err := proofHolds(u, sentTo); err != nil {
				return false, nil, err
			}
		}
		if !u.VerifyEmail(now) {
			return false, nil, nil
		}
		return true, []ports.Event{emailVerified(u, now, actor)}, nil
	})
}

// emailVerified is the event of u's email becoming verified.
func emailVerified(u *domain.User, at time.Time, actor string) ports.Event {
	return ports.Event{Type: userevents.TypeEmailVerified, Subject: u.ID(), Time: at, Actor: actor,
		Data: userevents.EmailVerified{UserID: u.ID(), Email: u.Email()}}
}

// Delete removes the user (admins only), or returns a *domain.NotFoundError. The other
// modules' hooks run first, so that a failing one fails the deletion and the retry runs them
// all again; the account goes last, and nothing of the user is left behind it.
func (s *Service) Delete(ctx context.Context, actor domain.Actor, id uuid.UUID) error {
	if err := domain.Authorize(actor, domain.ActionDelete, id); err != nil {
		return err
	}
	for _, hook := range s.BeforeDelete {
		if err := hook(ctx, id); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
	}
	return s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		if err := r.Users.Delete(ctx, id); err != nil {
			return err
		}
		return r.Events.Record(ctx, userEvent(userevents.TypeDeleted, id, s.Clock.Now(), actor))
	})
}

// change reads the user for update, lets fn change it and, when fn reports a change, saves the
// user and records the events fn returns, in one unit of work: the change and its events are
// committed together or not at all.
func (s *Service) change(ctx context.Context, id uuid.UUID, fn func(*domain.User, time.Time) (bool, []ports.Event, error)) (*domain.User, error) {
	return s.changeRevoking(ctx, id, nil, fn)
}

// revocation says why a change ends the user's sessions, and who made it.
type revocation struct {
	reason string
	actor  string
}

// changeRevoking is change that, when rev is set and fn changed the user, also ends every
// session of the user in the same unit of work.
func (s *Service) changeRevoking(ctx context.Context, id uuid.UUID, rev *revocation, fn func(*domain.User, time.Time) (bool, []ports.Event, error)) (*domain.User, error) {
	var u *domain.User
	err := s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		var err error
		if u, err = r.Users.GetForUpdate(ctx, id); err != nil {
			return err
		}
		now := s.Clock.Now()
		changed, evs, err := fn(u, now)
		if err != nil || !changed {
			return err
		}
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		if err := r.Events.Record(ctx, evs...); err != nil {
			return err
		}
		if rev == nil {
			return nil
		}
		return revokeAll(ctx, r, id, uuid.Nil, rev.reason, rev.actor, now)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
