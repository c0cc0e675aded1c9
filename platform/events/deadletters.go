package events

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events/litestore"
	"github.com/acme/userservice/platform/events/pgstore"
)

// DeadLetter is an event a handler failed on after every retry.
type DeadLetter struct {
	Handler  string
	Event    Event
	Error    string
	Attempts int
	FailedAt time.Time
}

// errNoDeadLetter is returned for a dead letter that does not exist.
var errNoDeadLetter = errors.New("no such dead letter")

func deadLetter(handler, envelope, cause string, attempts int, at time.Time) (DeadLetter, error) {
	e, err := decode(envelope)
	return DeadLetter{Handler: handler, Event: e, Error: cause, Attempts: attempts, FailedAt: at.UTC()}, err
}

func (s *pgStore) deadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := pgstore.New(s.pool).ListDeadLetters(ctx, int64(limit))
	if err != nil {
		return nil, database.ClassifyPostgres(err)
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		if out[i], err = deadLetter(r.Handler, r.Envelope, r.Error, int(r.Attempts), r.FailedAt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *pgStore) deadLetter(ctx context.Context, handler string, id uuid.UUID) (DeadLetter, error) {
	r, err := pgstore.New(s.pool).GetDeadLetter(ctx, pgstore.GetDeadLetterParams{Handler: handler, EventID: database.PgID(id)})
	if errors.Is(err, pgx.ErrNoRows) {
		return DeadLetter{}, errNoDeadLetter
	}
	if err != nil {
		return DeadLetter{}, database.ClassifyPostgres(err)
	}
	return deadLetter(r.Handler, r.Envelope, r.Error, int(r.Attempts), r.FailedAt)
}

func (s *pgStore) deleteDeadLetter(ctx context.Context, handler string, id uuid.UUID) error {
	return database.ClassifyPostgres(pgstore.New(s.pool).DeleteDeadLetter(ctx, pgstore.DeleteDeadLetterParams{Handler: handler, EventID: database.PgID(id)}))
}

func (s *liteStore) deadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := litestore.New(s.db).ListDeadLetters(ctx, int64(limit))
	if err != nil {
		return nil, database.ClassifySQLite(err)
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		if out[i], err = deadLetter(r.Handler, r.Envelope, r.Error, int(r.Attempts), r.FailedAt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *liteStore) deadLetter(ctx context.Context, handler string, id uuid.UUID) (DeadLetter, error) {
	r, err := litestore.New(s.db).GetDeadLetter(ctx, litestore.GetDeadLetterParams{Handler: handler, EventID: id})
	if errors.Is(err, sql.ErrNoRows) {
		return DeadLetter{}, errNoDeadLetter
	}
	if err != nil {
		return DeadLetter{}, database.ClassifySQLite(err)
	}
	return deadLetter(r.Handler, r.Envelope, r.Error, int(r.Attempts), r.FailedAt)
}

func (s *liteStore) deleteDeadLetter(ctx context.Context, handler string, id uuid.UUID) error {
	return database.ClassifySQLite(litestore.New(s.db).DeleteDeadLetter(ctx, litestore.DeleteDeadLetterParams{Handler: handler, EventID: id}))
}
