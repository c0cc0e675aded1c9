package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acme/userservice/modules/users/internal/adapters/postgres/pgstore"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/database"
)

// Sessions is the PostgreSQL SessionRepository, on the pool or a unit of work's transaction.
type Sessions struct {
	q *pgstore.Queries
}

var _ ports.SessionRepository = (*Sessions)(nil)

// NewSessions returns the sessions repository running its statements on db.
func NewSessions(db pgstore.DBTX) *Sessions { return &Sessions{q: pgstore.New(db)} }

// Add stores s with the digest of its first refresh token.
func (r *Sessions) Add(ctx context.Context, s domain.Session, tokenDigest []byte) error {
	err := r.q.InsertSession(ctx, pgstore.InsertSessionParams{
		SessionID:  database.PgID(s.ID),
		UserID:     database.PgID(s.UserID),
		UserAgent:  s.UserAgent,
		ClientAddr: s.ClientAddr,
		CreatedAt:  s.CreatedAt,
		LastUsedAt: s.LastUsedAt,
		ExpiresAt:  s.ExpiresAt,
	})
	if err != nil {
		return mapError(err)
	}
	return r.addToken(ctx, s.ID, tokenDigest, s.LastUsedAt)
}

func (r *Sessions) addToken(ctx context.Context, session uuid.UUID, digest []byte, at time.Time) error {
	return mapError(r.q.InsertRefreshToken(ctx, pgstore.InsertRefreshTokenParams{
		TokenHash: digest, SessionID: database.PgID(session), IssuedAt: at,
	}))
}

// UseRefreshToken marks the token used, once, and returns its session.
func (r *Sessions) UseRefreshToken(ctx context.Context, digest []byte, now time.Time) (domain.Session, bool, error) {
	id, err := r.q.UseRefreshToken(ctx, pgstore.UseRefreshTokenParams{TokenHash: digest, UsedAt: optionalTime(now)})
	reused := false
	if errors.Is(err, pgx.ErrNoRows) {
		// Used before, or unknown: which one decides between a reuse and a bad token.
		reused = true
		id, err = r.q.RefreshTokenSession(ctx, digest)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Session{}, false, ports.ErrUnknownRefreshToken
	}
	if err != nil {
		return domain.Session{}, false, mapError(err)
	}
	row, err := r.q.GetSession(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Session{}, false, ports.ErrUnknownRefreshToken
	}
	if err != nil {
		return domain.Session{}, false, mapError(err)
	}
	return sessionOf(row), reused, nil
}

// Refreshed saves s's last use and gives it the new refresh token.
func (r *Sessions) Refreshed(ctx context.Context, s domain.Session, tokenDigest []byte) error {
	n, err := r.q.UpdateSession(ctx, pgstore.UpdateSessionParams{
		SessionID: database.PgID(s.ID), UserAgent: s.UserAgent, ClientAddr: s.ClientAddr, LastUsedAt: s.LastUsedAt,
	})
	if err != nil {
		return mapError(err)
	}
	if n == 0 {
		return ports.ErrUnknownRefreshToken
	}
	return r.addToken(ctx, s.ID, tokenDigest, s.LastUsedAt)
}

// List returns the user's unexpired sessions, newest first.
func (r *Sessions) List(ctx context.Context, userID uuid.UUID, now time.Time) ([]domain.Session, error) {
	rows, err := r.q.ListSessions(ctx, pgstore.ListSessionsParams{UserID: database.PgID(userID), Now: now})
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]domain.Session, len(rows))
	for i, row := range rows {
		out[i] = sessionOf(row)
	}
	return out, nil
}

// Delete revokes one of the user's sessions.
func (r *Sessions) Delete(ctx context.Context, userID, id uuid.UUID) (bool, error) {
	n, err := r.q.DeleteSession(ctx, pgstore.DeleteSessionParams{UserID: database.PgID(userID), SessionID: database.PgID(id)})
	return n > 0, mapError(err)
}

// DeleteAll revokes the user's sessions but except.
func (r *Sessions) DeleteAll(ctx context.Context, userID, except uuid.UUID) ([]uuid.UUID, error) {
	ids, err := r.q.DeleteSessions(ctx, pgstore.DeleteSessionsParams{UserID: database.PgID(userID), ExceptID: database.PgID(except)})
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = id.Bytes
	}
	return out, nil
}

// DeleteExpired removes the user's expired sessions.
func (r *Sessions) DeleteExpired(ctx context.Context, userID uuid.UUID, now time.Time) error {
	return mapError(r.q.DeleteExpiredSessions(ctx, pgstore.DeleteExpiredSessionsParams{UserID: database.PgID(userID), Now: now}))
}

func sessionOf(row pgstore.Session) domain.Session {
	return domain.Session{
		ID:         row.SessionID.Bytes,
		UserID:     row.UserID.Bytes,
		UserAgent:  row.UserAgent,
		ClientAddr: row.ClientAddr,
		CreatedAt:  row.CreatedAt.UTC(),
		LastUsedAt: row.LastUsedAt.UTC(),
		ExpiresAt:  row.ExpiresAt.UTC(),
	}
}
