// Package postgres implements the notifications module's Store on PostgreSQL through pgx and
// the sqlc-generated queries in pgstore.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/modules/notifications/internal/adapters/outbox"
	"github.com/acme/userservice/modules/notifications/internal/adapters/postgres/pgstore"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/reqctx"
)

// Store is the PostgreSQL Store.
type Store struct {
	pool *pgxpool.Pool
	// appended is called after events were committed (events.Signal.Appended).
	appended func()
}

var _ ports.Store = (*Store)(nil)

// New returns a store on pool, calling appended (when not nil) after it committed events.
func New(pool *pgxpool.Pool, appended func()) *Store { return &Store{pool: pool, appended: appended} }

// tx runs fn in a transaction that records evs too.
func (s *Store) tx(ctx context.Context, evs []ports.Event, fn func(q *pgstore.Queries, tx pgx.Tx) error) error {
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := fn(pgstore.New(tx), tx); err != nil {
			return err
		}
		return events.AppendPostgres(ctx, tx, envs...)
	})
	if err != nil {
		return mapError(err)
	}
	if len(envs) > 0 && s.appended != nil {
		s.appended()
	}
	return nil
}

func jobParams(ctx context.Context, j domain.Job) pgstore.InsertJobParams {
	rid := j.RequestID
	if rid == "" {
		rid = reqctx.RequestID(ctx)
	}
	return pgstore.InsertJobParams{JobID: database.PgID(j.ID), Purpose: string(j.Purpose), UserID: database.PgID(j.UserID), Email: j.Email,
		RequestID: rid, CreatedAt: j.CreatedAt, NextAttemptAt: j.CreatedAt}
}

// AddJob stores j with evs.
func (s *Store) AddJob(ctx context.Context, j domain.Job, evs ...ports.Event) error {
	return s.tx(ctx, evs, func(q *pgstore.Queries, _ pgx.Tx) error { return q.InsertJob(ctx, jobParams(ctx, j)) })
}

// AddJobsOnce stores each job unless handler processed its event before, in one transaction of
// two statements whatever the number of jobs: the events' processed ids, then the jobs of those
// recorded for the first time.
func (s *Store) AddJobsOnce(ctx context.Context, handler string, jobs ...ports.EventJob) error {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(jobs))
	for i, ej := range jobs {
		ids[i] = ej.EventID
	}
	return s.tx(ctx, nil, func(q *pgstore.Queries, tx pgx.Tx) error {
		first, err := events.MarkProcessedAllPostgres(ctx, tx, handler, ids, jobs[0].Job.CreatedAt)
		if err != nil || len(first) == 0 {
			return err
		}
		news := make(map[uuid.UUID]bool, len(first))
		for _, id := range first {
			news[id] = true
		}
		var p pgstore.InsertJobsParams
		for _, ej := range jobs {
			if !news[ej.EventID] {
				continue
			}
			delete(news, ej.EventID) // an event given twice asks for one mail
			j := jobParams(ctx, ej.Job)
			p.JobIds = append(p.JobIds, j.JobID)
			p.Purposes = append(p.Purposes, j.Purpose)
			p.UserIds = append(p.UserIds, j.UserID)
			p.Emails = append(p.Emails, j.Email)
			p.RequestIds = append(p.RequestIds, j.RequestID)
			p.CreatedAts = append(p.CreatedAts, j.CreatedAt)
		}
		return q.InsertJobs(ctx, p)
	})
}

// ClaimJobs leases up to limit of the most overdue due jobs.
func (s *Store) ClaimJobs(ctx context.Context, now, leaseUntil time.Time, limit int) ([]domain.Job, error) {
	rows, err := pgstore.New(s.pool).ClaimJobs(ctx, pgstore.ClaimJobsParams{Now: now, LeaseUntil: leaseUntil, Lim: int32(limit)})
	if err != nil {
		return nil, mapError(err)
	}
	jobs := make([]domain.Job, len(rows))
	for i, row := range rows {
		jobs[i] = domain.Job{ID: row.JobID.Bytes, Purpose: domain.Purpose(row.Purpose), UserID: row.UserID.Bytes, Email: row.Email,
			RequestID: row.RequestID, CreatedAt: row.CreatedAt.UTC(), Attempts: int(row.Attempts)}
	}
	return jobs, nil
}

// RetryJob puts the job off until next.
func (s *Store) RetryJob(ctx context.Context, id uuid.UUID, next time.Time, why string) error {
	return mapError(pgstore.New(s.pool).RetryJob(ctx, pgstore.RetryJobParams{JobID: database.PgID(id), NextAttemptAt: next, LastError: why}))
}

// AddTokens stores tokens about to be mailed, in one statement.
func (s *Store) AddTokens(ctx context.Context, ts ...domain.Token) error {
	var p pgstore.InsertTokensParams
	for _, t := range ts {
		p.TokenHashes = append(p.TokenHashes, t.Digest)
		p.Purposes = append(p.Purposes, string(t.Purpose))
		p.UserIds = append(p.UserIds, database.PgID(t.UserID))
		p.Emails = append(p.Emails, t.Email)
		p.CreatedAts = append(p.CreatedAts, t.CreatedAt)
		p.ExpiresAts = append(p.ExpiresAts, t.ExpiresAt)
	}
	return mapError(pgstore.New(s.pool).InsertTokens(ctx, p))
}

// DropToken deletes a token whose mail did not go out.
func (s *Store) DropToken(ctx context.Context, digest []byte) error {
	return mapError(pgstore.New(s.pool).DeleteToken(ctx, digest))
}

// Sent voids each sent token's older siblings and deletes the jobs, in one transaction of
// three statements, whatever the batch's size.
func (s *Store) Sent(ctx context.Context, sent ...ports.SentJob) error {
	evs := make([]ports.Event, len(sent))
	var (
		older pgstore.DeleteOlderTokensOfParams
		jobs  []pgtype.UUID
	)
	for i, x := range sent {
		evs[i] = x.Event
		older.UserIds = append(older.UserIds, database.PgID(x.Token.UserID))
		older.Purposes = append(older.Purposes, string(x.Token.Purpose))
		older.CreatedAts = append(older.CreatedAts, x.Token.CreatedAt)
		jobs = append(jobs, database.PgID(x.Job.ID))
	}
	return s.tx(ctx, evs, func(q *pgstore.Queries, _ pgx.Tx) error {
		if err := q.DeleteOlderTokensOf(ctx, older); err != nil {
			return err
		}
		return q.DeleteJobs(ctx, jobs)
	})
}

// DropJob deletes a job.
func (s *Store) DropJob(ctx context.Context, id uuid.UUID) error {
	return mapError(pgstore.New(s.pool).DeleteJob(ctx, database.PgID(id)))
}

// UseToken consumes a token once.
func (s *Store) UseToken(ctx context.Context, digest []byte, p domain.Purpose, now time.Time) (uuid.UUID, string, error) {
	row, err := pgstore.New(s.pool).UseToken(ctx, pgstore.UseTokenParams{TokenHash: digest, Purpose: string(p),
		Now: pgtype.Timestamptz{Time: now, Valid: true}})
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, "", domain.ErrInvalidToken
	}
	if err != nil {
		return uuid.Nil, "", mapError(err)
	}
	return row.UserID.Bytes, row.Email, nil
}

// ReleaseToken gives back a token the use at usedAt consumed.
func (s *Store) ReleaseToken(ctx context.Context, digest []byte, p domain.Purpose, usedAt time.Time) error {
	return mapError(pgstore.New(s.pool).ReleaseToken(ctx, pgstore.ReleaseTokenParams{TokenHash: digest, Purpose: string(p),
		UsedAt: pgtype.Timestamptz{Time: usedAt, Valid: true}}))
}

// Forget deletes the user's tokens and jobs.
func (s *Store) Forget(ctx context.Context, userID uuid.UUID) error {
	return s.tx(ctx, nil, func(q *pgstore.Queries, _ pgx.Tx) error {
		if err := q.DeleteTokensOf(ctx, database.PgID(userID)); err != nil {
			return err
		}
		return q.DeleteJobsOf(ctx, database.PgID(userID))
	})
}

// Prune deletes expired tokens.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	return mapError(pgstore.New(s.pool).DeleteStaleTokens(ctx, now))
}

// Backlog counts the jobs not yet sent.
func (s *Store) Backlog(ctx context.Context) (int, error) {
	n, err := pgstore.New(s.pool).Backlog(ctx)
	return int(n), mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyPostgres(fmt.Errorf("notifications postgres: %w", err))
}
