// Package postgres implements the users module's ports on PostgreSQL through pgx and the
// sqlc-generated queries in pgstore. Storage errors are translated to domain errors here and
// nowhere else.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/modules/users/internal/adapters/outbox"
	"github.com/acme/userservice/modules/users/internal/adapters/postgres/pgstore"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a unique index conflict.
const uniqueViolation = "23505"

// Repository is the PostgreSQL UserRepository. It runs on whatever it was given: the pool for
// single statements, a transaction inside a unit of work.
type Repository struct {
	q *pgstore.Queries
	// appended is called after events were committed (events.Signal.Appended); nil in a unit
	// of work, whose commit calls it.
	appended func()
}

var (
	_ ports.UserRepository = (*Repository)(nil)
	_ ports.UsersReader    = (*Repository)(nil)
)

// NewRepository returns a repository that runs its statements on db, calling appended (when
// not nil) after it committed events.
func NewRepository(db pgstore.DBTX, appended func()) *Repository {
	return &Repository{q: pgstore.New(db), appended: appended}
}

// Add inserts u and writes evs to the outbox in one statement: one round trip, one
// transaction (both or neither); a taken email or username is a *domain.AlreadyExistsError.
func (r *Repository) Add(ctx context.Context, u *domain.User, evs ...ports.Event) error {
	s := u.Snapshot()
	p := pgstore.InsertUserWithEventsParams{
		UserID:          database.PgID(s.ID),
		Username:        s.Username,
		Email:           s.Email,
		IsActive:        s.Active,
		Role:            string(s.Role),
		PasswordHash:    nullable(s.PasswordHash),
		CreatedAt:       s.CreatedAt,
		UpdatedAt:       s.UpdatedAt,
		EmailVerifiedAt: optionalTime(s.EmailVerifiedAt),
	}
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	for _, e := range envs {
		row, err := events.PostgresRow(e)
		if err != nil {
			return err
		}
		p.EventIds = append(p.EventIds, database.PgID(row.ID))
		p.EventTypes = append(p.EventTypes, row.Type)
		p.EventParts = append(p.EventParts, row.Part)
		p.EventTimes = append(p.EventTimes, row.OccurredAt)
		p.Envelopes = append(p.Envelopes, row.Envelope)
	}
	if err := r.q.InsertUserWithEvents(ctx, p); err != nil {
		return mapWriteError(err, s)
	}
	if len(envs) > 0 && r.appended != nil {
		r.appended()
	}
	return nil
}

// Get returns the user with the id.
func (r *Repository) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	row, err := r.q.GetUserByID(ctx, database.PgID(id))
	return oneUser(row, err, id)
}

// GetMany returns the users with the ids that exist, in one statement.
func (r *Repository) GetMany(ctx context.Context, ids []uuid.UUID) ([]*domain.User, error) {
	pg := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		pg[i] = database.PgID(id)
	}
	rows, err := r.q.GetUsersByIDs(ctx, pg)
	if err != nil {
		return nil, mapError(err)
	}
	return allUsers(rows), nil
}

// GetForUpdate returns the user with the id, locking the row until the transaction ends.
func (r *Repository) GetForUpdate(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	row, err := r.q.GetUserForUpdate(ctx, database.PgID(id))
	return oneUser(row, err, id)
}

// GetCaller reads an authenticated request's account and session in one statement.
func (r *Repository) GetCaller(ctx context.Context, c ports.Credential) (ports.CallerAccount, error) {
	row, err := r.q.GetCaller(ctx, pgstore.GetCallerParams{UserID: database.PgID(c.UserID), SessionID: database.PgID(c.SessionID)})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.CallerAccount{}, nil
	}
	if err != nil {
		return ports.CallerAccount{}, mapError(err)
	}
	return ports.CallerAccount{User: toDomain(row.User), SessionExpires: ports.SessionExpiry(row.SessionExpires)}, nil
}

// GetCallerAndUser reads an authenticated request's account and session, and the user with id, in
// one statement.
func (r *Repository) GetCallerAndUser(ctx context.Context, c ports.Credential, id uuid.UUID) (ports.CallerAccount, *domain.User, error) {
	rows, err := r.q.GetCallerAndUser(ctx, pgstore.GetCallerAndUserParams{CallerID: database.PgID(c.UserID), SessionID: database.PgID(c.SessionID), UserID: database.PgID(id)})
	if err != nil {
		return ports.CallerAccount{}, nil, mapError(err)
	}
	var (
		caller ports.CallerAccount
		user   *domain.User
	)
	for _, row := range rows {
		if row.IsCaller {
			caller = ports.CallerAccount{User: toDomain(row.User), SessionExpires: ports.SessionExpiry(row.SessionExpires)}
		} else {
			user = toDomain(row.User)
		}
	}
	return caller, user, nil
}

// GetByEmail returns the user with the email, ignoring case.
func (r *Repository) GetByEmail(ctx context.Context, email string) (*domain.User, error) {
	row, err := r.q.GetUserByEmail(ctx, email)
	return oneUser(row, err, uuid.Nil)
}

// List returns a page of users in (created_at, user_id) order.
func (r *Repository) List(ctx context.Context, q ports.ListQuery) ([]*domain.User, error) {
	active := pgtype.Bool{}
	if q.IsActive != nil {
		active = pgtype.Bool{Bool: *q.IsActive, Valid: true}
	}
	var (
		rows []pgstore.User
		err  error
	)
	if q.After == nil {
		rows, err = r.q.ListUsersFirst(ctx, pgstore.ListUsersFirstParams{IsActive: active, Lim: int64(q.Limit)})
	} else {
		rows, err = r.q.ListUsersAfter(ctx, pgstore.ListUsersAfterParams{
			AfterCreatedAt: q.After.CreatedAt,
			AfterUserID:    database.PgID(q.After.ID),
			IsActive:       active,
			Lim:            int64(q.Limit),
		})
	}
	if err != nil {
		return nil, mapError(err)
	}
	return allUsers(rows), nil
}

// Update saves every field of u.
func (r *Repository) Update(ctx context.Context, u *domain.User) error {
	s := u.Snapshot()
	n, err := r.q.UpdateUser(ctx, pgstore.UpdateUserParams{
		UserID:          database.PgID(s.ID),
		Username:        s.Username,
		Email:           s.Email,
		IsActive:        s.Active,
		Role:            string(s.Role),
		PasswordHash:    nullable(s.PasswordHash),
		EmailVerifiedAt: optionalTime(s.EmailVerifiedAt),
		UpdatedAt:       s.UpdatedAt,
	})
	if err != nil {
		return mapWriteError(err, s)
	}
	if n == 0 {
		return &domain.NotFoundError{ID: s.ID}
	}
	return nil
}

// Delete removes the user with the id.
func (r *Repository) Delete(ctx context.Context, id uuid.UUID) error {
	n, err := r.q.DeleteUser(ctx, database.PgID(id))
	if err != nil {
		return mapError(err)
	}
	if n == 0 {
		return &domain.NotFoundError{ID: id}
	}
	return nil
}

func oneUser(row pgstore.User, err error, id uuid.UUID) (*domain.User, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &domain.NotFoundError{ID: id}
	}
	if err != nil {
		return nil, mapError(err)
	}
	return toDomain(row), nil
}

func allUsers(rows []pgstore.User) []*domain.User {
	users := make([]*domain.User, len(rows))
	for i, row := range rows {
		users[i] = toDomain(row)
	}
	return users
}

func toDomain(row pgstore.User) *domain.User {
	return domain.Restore(domain.Snapshot{
		ID:              uuid.UUID(row.UserID.Bytes),
		Username:        row.Username,
		Email:           row.Email,
		Active:          row.IsActive,
		Role:            domain.Role(row.Role),
		PasswordHash:    row.PasswordHash.String,
		EmailVerifiedAt: row.EmailVerifiedAt.Time.UTC(),
		CreatedAt:       row.CreatedAt.UTC(),
		UpdatedAt:       row.UpdatedAt.UTC(),
	})
}

// optionalTime stores the zero time ("not yet") as NULL.
func optionalTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// nullable stores "no password" as NULL.
func nullable(hash string) pgtype.Text {
	return pgtype.Text{String: hash, Valid: hash != ""}
}

// mapWriteError turns a unique violation into the domain's already-exists error, naming the
// field by the index that refused the row.
func mapWriteError(err error, s domain.Snapshot) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		switch pgErr.ConstraintName {
		case "users_email_lower_key":
			return &domain.AlreadyExistsError{Field: domain.FieldEmail, Value: s.Email}
		case "users_username_lower_key":
			return &domain.AlreadyExistsError{Field: domain.FieldUsername, Value: s.Username}
		}
	}
	return mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyPostgres(fmt.Errorf("users postgres: %w", err))
}

// UnitOfWork runs functions in PostgreSQL transactions.
type UnitOfWork struct {
	pool     *pgxpool.Pool
	appended func()
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// NewUnitOfWork returns a unit of work over pool, calling appended (when not nil) after it
// committed events.
func NewUnitOfWork(pool *pgxpool.Pool, appended func()) *UnitOfWork {
	return &UnitOfWork{pool: pool, appended: appended}
}

// Do runs fn in a transaction: commit on nil, rollback on error or panic.
func (w *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, r ports.Repos) error) (err error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return mapError(err)
	}
	defer func() {
		if p := recover(); p != nil {
			// The request may be gone; the rollback must still reach the server.
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	log := &eventLog{tx: tx}
	repos := ports.Repos{Users: NewRepository(tx, nil), Sessions: NewSessions(tx), Events: log, Admins: adminGuard{pgstore.New(tx)}}
	if err := fn(ctx, repos); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return mapError(err)
	}
	if log.recorded && w.appended != nil {
		w.appended()
	}
	return nil
}

// adminGuard is the AdminGuard of a unit of work's transaction.
type adminGuard struct{ q *pgstore.Queries }

// OtherActiveAdmin takes the admins' lock (a transaction-scoped advisory lock, released at
// the commit or rollback), then asks, in a statement of its own, whose snapshot is taken with
// the lock held: every unit of work that may take an admin away runs this, so they run one
// after the other, each counting what the one before committed. The unit of work has already
// locked its own user's row, and the lock's holder locks no other row: no deadlock.
func (g adminGuard) OtherActiveAdmin(ctx context.Context, id uuid.UUID) (bool, error) {
	if err := g.q.LockAdmins(ctx); err != nil {
		return false, mapError(err)
	}
	ok, err := g.q.OtherActiveAdminExists(ctx, database.PgID(id))
	return ok, mapError(err)
}

// eventLog writes events to the outbox in a unit of work's transaction.
type eventLog struct {
	tx       pgx.Tx
	recorded bool
}

func (l *eventLog) Record(ctx context.Context, evs ...ports.Event) error {
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	l.recorded = l.recorded || len(envs) > 0
	return mapError(events.AppendPostgres(ctx, l.tx, envs...))
}
