// Package sqlite implements the users module's ports on the embedded SQLite database (a pure-Go
// driver, no cgo) through the sqlc-generated queries in litestore. It passes the same contract
// suite as the PostgreSQL adapter, so the two are interchangeable.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/adapters/sqlite/litestore"
	"github.com/acme/userservice/modules/users/domain"
	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/platform/database"
)

// Repository is the SQLite UserRepository.
type Repository struct {
	q  *litestore.Queries
	db litestore.DBTX
}

var _ ports.UserRepository = (*Repository)(nil)

// NewRepository returns a repository that runs its statements on db (a *sql.DB or *sql.Tx).
func NewRepository(db litestore.DBTX) *Repository {
	return &Repository{q: litestore.New(db), db: db}
}

// Add inserts u; a taken email or username is a *domain.AlreadyExistsError.
func (r *Repository) Add(ctx context.Context, u *domain.User) error {
	s := u.Snapshot()
	err := r.q.InsertUser(ctx, litestore.InsertUserParams{
		UserID:       s.ID,
		Username:     s.Username,
		Email:        s.Email,
		IsActive:     s.Active,
		Role:         string(s.Role),
		PasswordHash: nullable(s.PasswordHash),
		CreatedAt:    s.CreatedAt,
		UpdatedAt:    s.UpdatedAt,
	})
	return mapWriteError(err, s)
}

// Get returns the user with the id.
func (r *Repository) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	row, err := r.q.GetUserByID(ctx, id)
	return oneUser(row, err, id)
}

// GetPair returns those of the two users that exist, in one statement.
func (r *Repository) GetPair(ctx context.Context, first, second uuid.UUID) ([]*domain.User, error) {
	rows, err := r.q.GetUserPair(ctx, litestore.GetUserPairParams{First: first, Second: second})
	if err != nil {
		return nil, mapError(err)
	}
	return allUsers(rows), nil
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
		UserID:       s.ID,
		Username:     s.Username,
		Email:        s.Email,
		IsActive:     s.Active,
		Role:         string(s.Role),
		PasswordHash: nullable(s.PasswordHash),
		UpdatedAt:    s.UpdatedAt,
	})
	if err != nil {
		return mapWriteError(err, s)
	}
	if n == 0 {
		return &domain.NotFoundError{ID: s.ID}
	}
	return nil
}

// SetActive loads the user, applies the entity's rule and saves it, in one transaction (SQLite
// has a single writer: the read-modify-write costs no round trips worth folding into SQL).
func (r *Repository) SetActive(ctx context.Context, id uuid.UUID, active bool, at time.Time) (*domain.User, error) {
	return r.modify(ctx, id, func(u *domain.User) (bool, error) {
		if active {
			return u.Activate(at), nil
		}
		return u.Deactivate(at), nil
	})
}

// Patch loads the user, applies c with the entity's rule and saves it, in one transaction.
func (r *Repository) Patch(ctx context.Context, id uuid.UUID, c domain.Changes, at time.Time) (*domain.User, error) {
	return r.modify(ctx, id, func(u *domain.User) (bool, error) { return u.Apply(c, at) })
}

// modify runs a read-modify-write atomically: in a new transaction, or in the caller's when the
// repository already runs in one (inside a unit of work).
func (r *Repository) modify(ctx context.Context, id uuid.UUID, fn func(*domain.User) (bool, error)) (*domain.User, error) {
	run := func(repo *Repository) (*domain.User, error) {
		u, err := repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		changed, err := fn(u)
		if err != nil || !changed {
			return u, err
		}
		return u, repo.Update(ctx, u)
	}
	db, ok := r.db.(*sql.DB)
	if !ok {
		return run(r)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapError(err)
	}
	u, err := run(NewRepository(tx))
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return u, mapError(tx.Commit())
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
		ID:           row.UserID,
		Username:     row.Username,
		Email:        row.Email,
		Active:       row.IsActive,
		Role:         domain.Role(row.Role),
		PasswordHash: row.PasswordHash.String,
		CreatedAt:    row.CreatedAt.UTC(),
		UpdatedAt:    row.UpdatedAt.UTC(),
	})
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
	db *sql.DB
}

var _ ports.UnitOfWork = (*UnitOfWork)(nil)

// NewUnitOfWork returns a unit of work over db.
func NewUnitOfWork(db *sql.DB) *UnitOfWork {
	return &UnitOfWork{db: db}
}

// Do runs fn in a transaction: commit on nil, rollback on error or panic.
func (w *UnitOfWork) Do(ctx context.Context, fn func(ctx context.Context, r ports.Repos) error) (err error) {
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
	if err := fn(ctx, ports.Repos{Users: NewRepository(tx)}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapError(tx.Commit())
}
