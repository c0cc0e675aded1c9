package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

var (
	// ErrInvalidRefreshToken is the one answer to every refused refresh: unknown, used
	// before, of an expired or revoked session, or of an account that may no longer log in.
	// The reason is wrapped for the logs.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrSessionNotFound means the caller has no session with the id.
	ErrSessionNotFound = errors.New("session not found")
)

// Client describes where a request comes from, as a session remembers it.
type Client struct {
	UserAgent string
	Addr      string
}

// Token is what a login or a refresh gives: a short-lived access token, and the refresh token
// that gets the next one, both of one session.
type Token struct {
	Value        string
	ExpiresIn    time.Duration
	RefreshToken string
	SessionID    uuid.UUID
}

// startSession creates a session for u, logged in from c, and issues its first tokens. The
// user's expired sessions go at the same time: a session row lives at most until the user's
// next login after its expiry, or until the user is deleted.
func (s *Service) startSession(ctx context.Context, u *domain.User, c Client) (Token, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Token{}, err
	}
	now := s.Clock.Now()
	sess := domain.NewSession(id, u.ID(), c.UserAgent, c.Addr, now, s.Policy.SessionTTL)
	refresh, digest := s.Opaque.New()
	err = s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		if err := r.Sessions.DeleteExpired(ctx, u.ID(), now); err != nil {
			return err
		}
		if err := r.Sessions.Add(ctx, sess, digest); err != nil {
			return err
		}
		return r.Events.Record(ctx, ports.Event{
			Type: userevents.TypeSessionCreated, Subject: u.ID(), Time: now, Actor: u.ID().String(),
			Data: userevents.SessionCreated{UserID: u.ID(), SessionID: id, UserAgent: sess.UserAgent, ClientAddr: sess.ClientAddr},
		})
	})
	if err != nil {
		return Token{}, err
	}
	return s.issue(u, sess.ID, refresh)
}

// issue returns the access token of u in the session, with the session's refresh token.
func (s *Service) issue(u *domain.User, session uuid.UUID, refresh string) (Token, error) {
	value, ttl, err := s.Tokens.Issue(u.ID(), string(u.Role()), session)
	if err != nil {
		return Token{}, err
	}
	return Token{Value: value, ExpiresIn: ttl, RefreshToken: refresh, SessionID: session}, nil
}

// Refresh exchanges a refresh token for a new access token and a new refresh token of the
// same session (rotation, RFC 9700 §4.14.2): each refresh token works once. Presenting one
// that was used before means two parties hold the session's tokens, and one of them stole
// them; the session is revoked at once, so that the newest token, whoever holds it, fails
// too. Two concurrent refreshes with one token are the same case: one wins, and the
// session ends.
func (s *Service) Refresh(ctx context.Context, refresh string, c Client) (Token, error) {
	now := s.Clock.Now()
	next, digest := s.Opaque.New()
	var (
		sess   domain.Session
		u      *domain.User
		reused bool
	)
	err := s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		var err error
		sess, reused, err = r.Sessions.UseRefreshToken(ctx, s.Opaque.Digest(refresh), now)
		if errors.Is(err, ports.ErrUnknownRefreshToken) {
			return fmt.Errorf("%w: %w", ErrInvalidRefreshToken, err)
		}
		if err != nil {
			return err
		}
		if reused {
			// Committed, unlike every other refusal: the revocation must stand.
			if _, err := r.Sessions.Delete(ctx, sess.UserID, sess.ID); err != nil {
				return err
			}
			return r.Events.Record(ctx, revoked(sess.UserID, sess.ID, userevents.RevokedReuse, ActorSystem, now))
		}
		if !sess.Live(now) {
			return fmt.Errorf("%w: session %s expired", ErrInvalidRefreshToken, sess.ID)
		}
		if u, err = r.Users.Get(ctx, sess.UserID); err != nil {
			return err
		}
		if !u.IsActive() {
			return fmt.Errorf("%w: user %s is deactivated", ErrInvalidRefreshToken, u.ID())
		}
		sess.Used(c.UserAgent, c.Addr, now)
		return r.Sessions.Refreshed(ctx, sess, digest)
	})
	if err != nil {
		return Token{}, err
	}
	if reused {
		return Token{}, fmt.Errorf("%w: reused; session %s revoked", ErrInvalidRefreshToken, sess.ID)
	}
	return s.issue(u, sess.ID, next)
}

// revoked is the event of a session's revocation; actor is a user id or ActorSystem.
func revoked(userID, session uuid.UUID, reason, actor string, at time.Time) ports.Event {
	return ports.Event{Type: userevents.TypeSessionRevoked, Subject: userID, Time: at, Actor: actor,
		Data: userevents.SessionRevoked{UserID: userID, SessionID: session, Reason: reason}}
}

// Logout ends the session the caller's token belongs to: its access and refresh tokens stop
// working at once.
func (s *Service) Logout(ctx context.Context, c ports.Credential) error {
	return s.revokeSession(ctx, c.UserID, c.SessionID, userevents.RevokedLogout)
}

// ListSessions returns the caller's live sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, caller uuid.UUID) ([]domain.Session, error) {
	return s.Sessions.List(ctx, caller, s.Clock.Now())
}

// RevokeSession ends one of the caller's sessions; another's, or one that has ended, is
// ErrSessionNotFound.
func (s *Service) RevokeSession(ctx context.Context, caller, session uuid.UUID) error {
	return s.revokeSession(ctx, caller, session, userevents.RevokedByUser)
}

func (s *Service) revokeSession(ctx context.Context, userID, session uuid.UUID, reason string) error {
	return s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		found, err := r.Sessions.Delete(ctx, userID, session)
		if err != nil {
			return err
		}
		if !found {
			return ErrSessionNotFound
		}
		return r.Events.Record(ctx, revoked(userID, session, reason, userID.String(), s.Clock.Now()))
	})
}

// RevokeOtherSessions ends every session of the caller but the one of this request ("log out
// everywhere else").
func (s *Service) RevokeOtherSessions(ctx context.Context, c ports.Credential) error {
	return s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		return revokeAll(ctx, r, c.UserID, c.SessionID, userevents.RevokedByUser, c.UserID.String(), s.Clock.Now())
	})
}

// RevokeUserSessions ends every session of the user (admins only): their tokens stop working
// at their next request. A missing user is a *domain.NotFoundError.
func (s *Service) RevokeUserSessions(ctx context.Context, actor domain.Actor, id uuid.UUID) error {
	if err := domain.Authorize(actor, domain.ActionRevokeSessions, id); err != nil {
		return err
	}
	return s.UoW.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		if _, err := r.Users.Get(ctx, id); err != nil {
			return err
		}
		return revokeAll(ctx, r, id, uuid.Nil, userevents.RevokedByAdmin, actor.ID.String(), s.Clock.Now())
	})
}

// revokeAll ends the user's sessions but except, in r's transaction, recording one revoked
// event for each.
func revokeAll(ctx context.Context, r ports.Repos, userID, except uuid.UUID, reason, actor string, now time.Time) error {
	ids, err := r.Sessions.DeleteAll(ctx, userID, except)
	if err != nil {
		return err
	}
	evs := make([]ports.Event, len(ids))
	for i, id := range ids {
		evs[i] = revoked(userID, id, reason, actor, now)
	}
	return r.Events.Record(ctx, evs...)
}
