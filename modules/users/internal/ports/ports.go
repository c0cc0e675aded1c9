// Package ports declares what the users module needs from the outside world: a repository of
// users and a unit of work that makes a sequence of repository calls atomic. The service layer
// depends on these interfaces; the adapters (PostgreSQL, SQLite) implement them and pass one
// shared contract suite.
package ports

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
)

// UserRepository stores users. Implementations map storage errors to domain errors: a missing
// user is a *domain.NotFoundError, a taken email or username a *domain.AlreadyExistsError
// (decided by the database's unique index, never by a prior read). Every method is atomic on
// its own, so a use case that needs one call needs no unit of work (registering is one round
// trip on PostgreSQL, the user and its event included).
type UserRepository interface {
	// Add inserts a new user and records evs with it, atomically: both or neither.
	Add(ctx context.Context, u *domain.User, evs ...Event) error
	// Get returns the user with the id.
	Get(ctx context.Context, id uuid.UUID) (*domain.User, error)
	// GetForUpdate returns the user with the id and, in a unit of work, locks it until the end:
	// a read-modify-write then knows exactly what it changed, whatever runs beside it.
	GetForUpdate(ctx context.Context, id uuid.UUID) (*domain.User, error)
	// GetCaller reads the account of an authenticated request in one statement: the user c
	// names (nil when there is none) and when c's session ends, if it is one of theirs.
	GetCaller(ctx context.Context, c Credential) (CallerRead, error)
	// GetCallerAnd is GetCaller and Get of id in one statement (an authenticated read fetches
	// its caller with its subject); the user is nil when there is none.
	GetCallerAnd(ctx context.Context, c Credential, id uuid.UUID) (CallerRead, *domain.User, error)
	// GetByEmail returns the user with the email, compared without regard to case.
	GetByEmail(ctx context.Context, email string) (*domain.User, error)
	// List returns up to q.Limit users in (CreatedAt, ID) order, after q.After when set.
	List(ctx context.Context, q ListQuery) ([]*domain.User, error)
	// Update saves every field of an existing user.
	Update(ctx context.Context, u *domain.User) error
	// Delete removes the user with the id.
	Delete(ctx context.Context, id uuid.UUID) error
}

// UsersReader is what a UserRepository may also do: read several users at once. A repository
// without it is read one user at a time (see Directory.Accounts).
type UsersReader interface {
	// GetMany returns the users with the ids that exist, in no particular order.
	GetMany(ctx context.Context, ids []uuid.UUID) ([]*domain.User, error)
}

// Credential is what a verified access token says: its user, and the session it was issued in.
type Credential struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
}

// CallerRead is the account of an authenticated request, as read to authenticate it.
type CallerRead struct {
	// User is nil when the account is gone.
	User *domain.User
	// SessionExpires is when the token's session ends, to the second (rounded down); zero when
	// no session of the user has the token's session id.
	SessionExpires time.Time
}

// SessionLive reports whether the token's session may be used at now.
func (r CallerRead) SessionLive(now time.Time) bool { return now.Before(r.SessionExpires) }

// SessionExpiry returns the time of a session expiry in whole seconds since 1970, as storage
// reads it; 0 means no session.
func SessionExpiry(unix int64) time.Time {
	if unix == 0 {
		return time.Time{}
	}
	return time.Unix(unix, 0).UTC()
}

// SessionRepository stores sessions and the digests of their refresh tokens (never the
// tokens). Revoking a session deletes it with its tokens; a user's deletion deletes theirs.
type SessionRepository interface {
	// Add stores a new session with the digest of its first refresh token.
	Add(ctx context.Context, s domain.Session, tokenDigest []byte) error
	// UseRefreshToken marks the refresh token with digest used at now, once: it returns the
	// token's session and reused=false the first time, the session and reused=true every time
	// after. A digest of no token of a stored session is ErrUnknownRefreshToken.
	UseRefreshToken(ctx context.Context, digest []byte, now time.Time) (s domain.Session, reused bool, err error)
	// Refreshed saves s after a use (Session.Used) and gives it a new refresh token.
	Refreshed(ctx context.Context, s domain.Session, tokenDigest []byte) error
	// List returns the user's sessions that have not expired at now, newest first.
	List(ctx context.Context, userID uuid.UUID, now time.Time) ([]domain.Session, error)
	// Delete revokes the user's session id; it reports false when the user has no such session.
	Delete(ctx context.Context, userID, id uuid.UUID) (bool, error)
	// DeleteAll revokes every session of the user but except (uuid.Nil for none), and returns
	// the ids of those it revoked.
	DeleteAll(ctx context.Context, userID, except uuid.UUID) ([]uuid.UUID, error)
	// DeleteExpired removes the user's sessions that have expired at now.
	DeleteExpired(ctx context.Context, userID uuid.UUID, now time.Time) error
}

// ErrUnknownRefreshToken is returned by UseRefreshToken for a token no stored session was
// given: never issued, or of a session since revoked or removed.
var ErrUnknownRefreshToken = errors.New("unknown refresh token")

// ListQuery selects a page of users.
type ListQuery struct {
	// Limit is the most users to return; it is always positive.
	Limit int
	// After, when set, starts the page after this position.
	After *Position
	// IsActive, when set, keeps only users with that state.
	IsActive *bool
}

// Position is a place in the (CreatedAt, ID) order of users: the keyset of a page.
type Position struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Repos are the repositories a unit of work hands to its function, all bound to one
// transaction.
type Repos struct {
	Users    UserRepository
	Sessions SessionRepository
	// Events records events in the transaction: committed with the change, or not at all.
	Events EventLog
}

// Event is a domain event the module emits (domain.Event* types), recorded with the change it
// describes and published by the platform after the commit.
type Event struct {
	Type    string
	Subject uuid.UUID
	Time    time.Time
	// Actor is who made the change: a user id, "self" (self-registration) or "system".
	Actor string
	// Data is the payload: the domain's type for Type.
	Data any
}

// EventLog records events (the transactional outbox).
type EventLog interface {
	Record(ctx context.Context, evs ...Event) error
}

// UnitOfWork runs a function atomically.
type UnitOfWork interface {
	// Do runs fn in one transaction: it commits when fn returns nil and rolls back when fn
	// returns an error or panics (the panic then continues). The repositories in Repos are
	// valid only during fn.
	//
	// Do may run fn more than once: an adapter with optimistic concurrency (MongoDB) runs it
	// again, on what is committed now, when a concurrent unit of work changed what it read.
	// So fn changes state only through r, and sets rather than accumulates what it hands out.
	Do(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// DeletionHook removes what another part of the application holds about a user who is about
// to be deleted. It must be idempotent: a failed deletion is retried, and runs it again.
type DeletionHook func(ctx context.Context, userID uuid.UUID) error

// PasswordHasher hashes passwords and checks them against stored hashes. Hashes are encoded
// with their algorithm and parameters, so parameters can be raised later.
type PasswordHasher interface {
	// Hash returns the encoded hash of password with a fresh salt.
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded was made with
	// parameters other than the current ones and should be replaced by a new Hash.
	Verify(password, encoded string) (match, rehash bool, err error)
}

// TokenIssuer issues and checks access tokens.
type TokenIssuer interface {
	// Issue returns an access token naming the user as its subject and the session it belongs
	// to, and how long it is valid.
	Issue(userID uuid.UUID, role string, session uuid.UUID) (token string, expiresIn time.Duration, err error)
}

// OpaqueTokens makes the random tokens that are stored only as digests (refresh tokens).
type OpaqueTokens interface {
	// New returns a new token and its digest.
	New() (token string, digest []byte)
	// Digest returns the digest a token is stored and looked up by.
	Digest(token string) []byte
}

// Throttle counts failed attempts per key (an account, a client address) and blocks keys that
// fail too often, and counts uses (registrations) against a limit. The in-memory one serves
// one instance; a shared store can replace it.
type Throttle interface {
	// Blocked returns how long key must still wait before trying again; 0 when it may try.
	Blocked(key string) time.Duration
	// Fail records a failed attempt; after limit failures within window, key is blocked for
	// window.
	Fail(key string, limit int, window time.Duration)
	// Failures returns how many failed attempts of key are within window and have not yet
	// blocked it.
	Failures(key string, window time.Duration) int
	// Reset forgets key's failures.
	Reset(key string)
	// Allow counts a use of key (a registration from an address) and returns 0 when fewer than
	// limit were counted within window, else how long until one leaves it; use names the use
	// ("" for a new one each time). Counting and checking are one step, so a concurrent burst
	// gets exactly limit through.
	Allow(key, use string, limit int, window time.Duration) time.Duration
}
