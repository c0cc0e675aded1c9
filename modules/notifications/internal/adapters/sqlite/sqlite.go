// Package sqlite implements the notifications module's Store on SQLite through database/sql and
// the sqlc-generated queries in litestore.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/adapters/outbox"
	"github.com/acme/userservice/modules/notifications/internal/adapters/sqlite/litestore"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/reqctx"
)

// Store is the SQLite Store.
type Store struct {
	db *sql.DB
	// appended is called after events were committed (events.Signal.Appended).
	appended func()
}

var _ ports.Store = (*Store)(nil)

// New returns a store on db, calling appended (when not nil) after it committed events.
func New(db *sql.DB, appended func()) *Store { return &Store{db: db, appended: appended} }

// tx runs fn in a transaction that records evs too.
func (s *Store) tx(ctx context.Context, evs []ports.Event, fn func(q *litestore.Queries, tx *sql.Tx) error) error {
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapError(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(litestore.New(tx), tx); err != nil {
		return mapError(err)
	}
	if err := events.AppendSQLite(ctx, tx, envs...); err != nil {
		return mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return mapError(err)
	}
	if len(envs) > 0 && s.appended != nil {
		s.appended()
	}
	return nil
}

func jobParams(ctx context.Context, j domain.Job) litestore.InsertJobParams {
	rid := j.RequestID
	if rid == "" {
		rid = reqctx.RequestID(ctx)
	}
	return litestore.InsertJobParams{JobID: j.ID, Purpose: string(j.Purpose), UserID: j.UserID, Email: j.Email,
		RequestID: rid, CreatedAt: j.CreatedAt, NextAttemptAt: j.CreatedAt}
}

// AddJob stores j with evs.
func (s *Store) AddJob(ctx context.Context, j domain.Job, evs ...ports.Event) error {
	return s.tx(ctx, evs, func(q *litestore.Queries, _ *sql.Tx) error { return q.InsertJob(ctx, jobParams(ctx, j)) })
}

// AddJobsOnce stores each job unless handler processed its event before, in one transaction.
func (s *Store) AddJobsOnce(ctx context.Context, handler string, jobs ...ports.EventJob) error {
	return s.tx(ctx, nil, func(q *litestore.Queries, tx *sql.Tx) error {
		for _, ej := range jobs {
			first, err := events.MarkProcessedSQLite(ctx, tx, handler, ej.EventID, ej.Job.CreatedAt)
			if err != nil {
				return err
			}
			if !first {
				continue
			}
			if err := q.InsertJob(ctx, jobParams(ctx, ej.Job)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimJobs leases up to limit of the most overdue due jobs.
func (s *Store) ClaimJobs(ctx context.Context, now, leaseUntil time.Time, limit int) ([]domain.Job, error) {
	rows, err := litestore.New(s.db).ClaimJobs(ctx, litestore.ClaimJobsParams{Now: now.UTC(), LeaseUntil: leaseUntil.UTC(), Lim: int64(limit)})
	if err != nil {
		return nil, mapError(err)
	}
	jobs := make([]domain.Job, len(rows))
	for i, row := range rows {
		jobs[i] = domain.Job{ID: row.JobID, Purpose: domain.Purpose(row.Purpose), UserID: row.UserID, Email: row.Email,
			RequestID: row.RequestID, CreatedAt: row.CreatedAt.UTC(), Attempts: int(row.Attempts)}
	}
	return jobs, nil
}

// RetryJob puts the job off until next.
func (s *Store) RetryJob(ctx context.Context, id uuid.UUID, next time.Time, why string) error {
	return mapError(litestore.New(s.db).RetryJob(ctx, litestore.RetryJobParams{JobID: id, NextAttemptAt: next.UTC(), LastError: why}))
}

// AddTokens stores tokens about to be mailed, in one transaction.
func (s *Store) AddTokens(ctx context.Context, ts ...domain.Token) error {
	return s.tx(ctx, nil, func(q *litestore.Queries, _ *sql.Tx) error {
		for _, t := range ts {
			if err := q.InsertToken(ctx, litestore.InsertTokenParams{TokenHash: t.Digest, Purpose: string(t.Purpose), UserID: t.UserID,
				Email: t.Email, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropToken deletes a token whose mail did not go out.
func (s *Store) DropToken(ctx context.Context, digest []byte) error {
	return mapError(litestore.New(s.db).DeleteToken(ctx, digest))
}

// Sent voids each sent token's older siblings and deletes the jobs, in one transaction.
func (s *Store) Sent(ctx context.Context, sent ...ports.SentJob) error {
	evs := make([]ports.Event, len(sent))
	for i, x := range sent {
		evs[i] = x.Event
	}
	return s.tx(ctx, evs, func(q *litestore.Queries, _ *sql.Tx) error {
		for _, x := range sent {
			t := x.Token
			if err := q.DeleteOlderTokens(ctx, litestore.DeleteOlderTokensParams{UserID: t.UserID, Purpose: string(t.Purpose), CreatedAt: t.CreatedAt}); err != nil {
				return err
			}
			if err := q.DeleteJob(ctx, x.Job.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropJob deletes a job.
func (s *Store) DropJob(ctx context.Context, id uuid.UUID) error {
	return mapError(litestore.New(s.db).DeleteJob(ctx, id))
}

// UseToken consumes a token once.
func (s *Store) UseToken(ctx context.Context, digest []byte, p domain.Purpose, now time.Time) (uuid.UUID, string, error) {
	row, err := litestore.New(s.db).UseToken(ctx, litestore.UseTokenParams{TokenHash: digest, Purpose: string(p),
		Now: sql.NullTime{Time: now.UTC(), Valid: true}})
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, "", domain.ErrInvalidToken
	}
	if err != nil {
		return uuid.Nil, "", mapError(err)
	}
	return row.UserID, row.Email, nil
}

// ReleaseToken gives back a token the use at usedAt consumed.
func (s *Store) ReleaseToken(ctx context.Context, digest []byte, p domain.Purpose, usedAt time.Time) error {
	return mapError(litestore.New(s.db).ReleaseToken(ctx, litestore.ReleaseTokenParams{TokenHash: digest, Purpose: string(p),
		UsedAt: sql.NullTime{Time: usedAt.UTC(), Valid: true}}))
}

// Forget deletes the user's tokens and jobs.
func (s *Store) Forget(ctx context.Context, userID uuid.UUID) error {
	return s.tx(ctx, nil, func(q *litestore.Queries, _ *sql.Tx) error {
		if err := q.DeleteTokensOf(ctx, userID); err != nil {
			return err
		}
		return q.DeleteJobsOf(ctx, userID)
	})
}

// Prune deletes expired tokens.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	return mapError(litestore.New(s.db).DeleteStaleTokens(ctx, now.UTC()))
}

// Backlog counts the jobs not yet sent.
func (s *Store) Backlog(ctx context.Context) (int, error) {
	n, err := litestore.New(s.db).Backlog(ctx)
	return int(n), mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifySQLite(fmt.Errorf("notifications sqlite: %w", err))
}
