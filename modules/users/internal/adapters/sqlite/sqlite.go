// Package sqlite implements the users module's ports on the embedded SQLite database (a pure-Go
// driver, no cgo) through the sqlc-generated queries in litestore. It passes the same contract
// suite as the PostgreSQL adapter, so the two are interchangeable.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/adapters/outbox"
	"github.com/acme/userservice/modules/users/internal/adapters/sqlite/litestore"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// Repository is the SQLite UserRepository.
type Repository struct {
	q  *litestore.Queries
	db litestore.DBTX
	// appended is called after events were committed; nil in a unit of work, whose commit
	// calls it.
	appended func()
}

var (
	_ ports.UserRepository = (*Repository)(nil)
	_ ports.UsersReader    = (*Repository)(nil)
)

// NewRepository returns a repository that runs its statements on db (a *sql.DB or *sql.Tx),
// calling appended (when not nil) after it committed events.
func NewRepository(db litestore.DBTX, appended func()) *Repository {
	return &Repository{q: litestore.New(db), db: db, appended: appended}
}

// Add inserts u and writes evs to the outbox, atomically: in the unit of work's transaction, or
// in one of its own; a taken email or username is a *domain.AlreadyExistsError.
func (r *Repository) Add(ctx context.Context, u *domain.User, evs ...ports.Event) error {
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	s := u.Snapshot()
	add := func(db litestore.DBTX) error {
		err := litestore.New(db).InsertUser(ctx, litestore.InsertUserParams{
			UserID:          s.ID,
			Username:        s.Username,
			Email:           s.Email,
			IsActive:        s.Active,
			Role:            string(s.Role),
			PasswordHash:    nullable(s.PasswordHash),
			CreatedAt:       s.CreatedAt,
			UpdatedAt:       s.UpdatedAt,
			EmailVerifiedAt: optionalTime(s.EmailVerifiedAt),
		})
		if err != nil {
			return mapWriteError(err, s)
		}
		return mapError(events.AppendSQLite(ctx, db, envs...))
	}
	sqlDB, ok := r.db.(*sql.DB)
	if !ok || len(envs) == 0 {
		return add(r.db)
	}
	if err := NewUnitOfWork(sqlDB, nil).inTx(ctx, func(tx *sql.Tx) error { return add(tx) }); err != nil {
		return err
	}
	if r.appended != nil {
		r.appended()
	}
	return nil
}

// Get returns the user with the id.
func (r *Repository) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	row, err := r.q.GetUserByID(ctx, id)
	return oneUser(row, err, id)
}

// manyIDs is the most ids GetMany binds to one statement, well below SQLite's limit on a
// statement's parameters (32,766).
const manyIDs = 1000

// GetMany returns the users with the ids that exist, in one statement per manyIDs ids. The ids
// are made unique first: a user whose id is in two chunks would be read twice.
func (r *Repository) GetMany(ctx context.Context, ids []uuid.UUID) ([]*domain.User, error) {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	var users []*domain.User
	for chunk := range slices.Chunk(ids, manyIDs) {
		rows, err := r.q.GetUsersByIDs(ctx, chunk)
		if err != nil {
			return nil, mapError(err)
		}
		users = append(users, allUsers(rows)...)
	}
	return users, nil
}

// GetForUpdate returns the user with the id. SQLite has one writer, and the unit of work's
// transaction holds it: there is nothing more to lock.
func (r *Repository) GetForUpdate(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	return r.Get(ctx, id)
}

// GetCaller reads an authenticated request's account and session in one statement.
func (r *Repository) GetCaller(ctx context.Context, c ports.Credential) (ports.CallerAccount, error) {
	row, err := r.q.GetCaller(ctx, litestore.GetCallerParams{UserID: c.UserID, SessionID: c.SessionID})
	if errors.Is(err, sql.ErrNoRows) {
		return ports.CallerAccount{}, nil
	}
	if err != nil {
		return ports.CallerAccount{}, mapError(err)
	}
	return ports.CallerAccount{User: toDomain(row.User), SessionExpires: ports.SessionExpiry(unix(row.SessionExpires))}, nil
}

// GetCallerAndUser reads an authenticated request's account and session, and the user with id, in
// one statement.
func (r *Repository) GetCallerAndUser(ctx context.Context, c ports.Credential, id uuid.UUID) (ports.CallerAccount, *domain.User, error) {
	rows, err := r.q.GetCallerAndUser(ctx, litestore.GetCallerAndUserParams{CallerID: c.UserID, SessionID: c.SessionID, UserID: id})
	if err != nil {
		return ports.CallerAccount{}, nil, mapError(err)
	}
	var (
		caller ports.CallerAccount
		user   *domain.User
	)
	for _, row := range rows {
		if row.IsCaller != 0 {
			caller = ports.CallerAccount{User: toDomain(row.User), SessionExpires: ports.SessionExpiry(unix(row.SessionExpires))}
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
	// sqlc types the optional filter as any: nil means "no filter".
	var active any
	if q.IsActive != nil {
		active = *q.IsActive
	}
	var (
		rows []litestore.User
		err  error
	)
	if q.After == nil {
		rows, err = r.q.ListUsersFirst(ctx, litestore.ListUsersFirstParams{IsActive: active, Lim: int64(q.Limit)})
	} else {
		rows, err = r.q.ListUsersAfter(ctx, litestore.ListUsersAfterParams{
			AfterCreatedAt: q.After.CreatedAt,
			AfterUserID:    q.After.ID,
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
	n, err := r.q.UpdateUser(ctx, litestore.UpdateUserParams{
		UserID:          s.ID,
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
	n, err := r.q.DeleteUser(ctx, id)
	if err != nil {
		return mapError(err)
	}
	if n == 0 {
		return &domain.NotFoundError{ID: id}
	}
	return nil
}

func oneUser(row litestore.User, err error, id uuid.UUID) (*domain.User, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &domain.NotFoundError{ID: id}
	}
	if err != nil {
		return nil, mapError(err)
	}
	return toDomain(row), nil
}

func allUsers(rows []litestore.User) []*domain.User {
	users := make([]*domain.User, len(rows))
	for i, row := range rows {
		users[i] = toDomain(row)
	}
	return users
}

func toDomain(row litestore.User) *domain.User {
	return domain.Restore(domain.Snapshot{
		ID:              row.UserID,
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

// unix reads a computed integer column, which sqlc types as any on SQLite.
func unix(v any) int64 {
	n, _ := v.(int64)
	return n
}

// optionalTime stores the zero time ("not yet") as NULL.
func optionalTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t, Valid: !t.IsZero()}
}

// nullable stores "no password" as NULL.
func nullable(hash string) sql.NullString {
	return sql.NullString{String: hash, Valid: hash != ""}
}

// mapWriteError turns a unique violation into the domain's already-exists error. SQLite names
// the index in the message ("UNIQUE constraint failed: index 'users_email_lower_key'").
func mapWriteError(err error, s domain.Snapshot) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		switch msg := err.Error(); {
		case strings.Contains(msg, "users_email_lower_key"):
			return &domain.AlreadyExistsError{Field: domain.FieldEmail, Value: s.Email}
		case strings.Contains(msg, "users_username_lower_key"):
			return &domain.AlreadyExistsError{Field: domain.FieldUsername, Value: s.Username}
		}
	}
	return mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifySQLite(fmt.Errorf("users sqlite: %w", err))
}

// UnitOfWork runs functions in SQLite transactions.
type UnitOfWork struct {
	db       *sql.DB
	appended func()
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// NewUnitOfWork returns a unit of work over db, calling appended (when not nil) after it
// committed events.
func NewUnitOfWork(db *sql.DB, appended func()) *UnitOfWork {
	return &UnitOfWork{db: db, appended: appended}
}

// Do runs fn in a transaction: commit on nil, rollback on error or panic.
func (w *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, r ports.Repos) error) error {
	log := &eventLog{tx: nil}
	err := w.inTx(ctx, func(tx *sql.Tx) error {
		log.tx = tx
		return fn(ctx, ports.Repos{Users: NewRepository(tx, nil), Sessions: NewSessions(tx), Events: log, Admins: adminGuard{litestore.New(tx)}})
	})
	if err == nil && log.recorded && w.appended != nil {
		w.appended()
	}
	return err
}

// inTx runs fn in a transaction: commit on nil, rollback on error or panic.
func (w *UnitOfWork) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return mapError(err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapError(tx.Commit())
}

// adminGuard is the AdminGuard of a unit of work's transaction.
type adminGuard struct{ q *litestore.Queries }

// OtherActiveAdmin counts in the transaction: SQLite's one connection runs the units of work
// one at a time, so no other can commit between the count and this one's commit.
func (g adminGuard) OtherActiveAdmin(ctx context.Context, id uuid.UUID) (bool, error) {
	ok, err := g.q.OtherActiveAdminExists(ctx, id)
	return ok, mapError(err)
}

// eventLog writes events to the outbox in a unit of work's transaction.
type eventLog struct {
	tx       *sql.Tx
	recorded bool
}

func (l *eventLog) Record(ctx context.Context, evs ...ports.Event) error {
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return err
	}
	l.recorded = l.recorded || len(envs) > 0
	return mapError(events.AppendSQLite(ctx, l.tx, envs...))
}
