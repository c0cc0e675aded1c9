package ports

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/domain"
)

// Event is an event the module records (domain.Event* types), in the same transaction as the
// change it describes; the platform publishes it after the commit.
type Event struct {
	Type      string
	Subject   uuid.UUID
	Time      time.Time
	Actor     string
	RequestID string
	Data      any
}

// EventJob is a job an event asks for.
type EventJob struct {
	EventID uuid.UUID
	Job     domain.Job
}

// SentJob is a job whose mail went out, with its token and the event that says so.
type SentJob struct {
	Job   domain.Job
	Token domain.Token
	Event Event
}

// Store keeps the module's mail jobs and tokens; each method is one transaction.
type Store interface {
	// AddJob stores j with evs.
	AddJob(ctx context.Context, j domain.Job, evs ...Event) error
	// AddJobsOnce stores each job unless handler already processed its event, in one
	// transaction: an at-least-once delivery asks for the mail once.
	AddJobsOnce(ctx context.Context, handler string, jobs ...EventJob) error
	// ClaimJobs leases up to limit of the most overdue jobs due at now until leaseUntil,
	// counting the attempt; none when none is due.
	ClaimJobs(ctx context.Context, now, leaseUntil time.Time, limit int) ([]domain.Job, error)
	// RetryJob puts the job off until next, remembering why it failed.
	RetryJob(ctx context.Context, id uuid.UUID, next time.Time, why string) error
	// AddTokens stores tokens about to be mailed, in one transaction: stored first, they work as
	// soon as their mail can arrive.
	AddTokens(ctx context.Context, ts ...domain.Token) error
	// DropToken deletes a token whose mail did not go out.
	DropToken(ctx context.Context, digest []byte) error
	// Sent records sent jobs in one transaction: each token voids its user's other ones of its
	// purpose, the jobs go, and their events are recorded.
	Sent(ctx context.Context, sent ...SentJob) error
	// DropJob deletes a job that will not be sent.
	DropJob(ctx context.Context, id uuid.UUID) error
	// UseToken consumes the token with digest for purpose at now, once, and returns whom it
	// was sent to; anything else is domain.ErrInvalidToken.
	UseToken(ctx context.Context, digest []byte, p domain.Purpose, now time.Time) (userID uuid.UUID, email string, err error)
	// ReleaseToken gives back the token that UseToken consumed at usedAt (in microseconds),
	// when what it proves could not be done, so that its link works again. A token used at
	// another time, or no longer stored, is left as it is.
	ReleaseToken(ctx context.Context, digest []byte, p domain.Purpose, usedAt time.Time) error
	// Forget deletes everything the module holds about the user.
	Forget(ctx context.Context, userID uuid.UUID) error
	// Prune deletes the tokens expired at now.
	Prune(ctx context.Context, now time.Time) error
	// Backlog counts the jobs not yet sent.
	Backlog(ctx context.Context) (int, error)
}

// Account is what the module reads of an account (the users module owns it).
type Account struct {
	ID              uuid.UUID
	Username        string
	Email           string
	CanReceiveEmail bool
	EmailVerified   bool
}

// ErrNoAccount means no account has the id or email asked for.
var ErrNoAccount = errors.New("no such account")

// ErrEmailChanged means the account's email is no longer the one a token was sent to.
var ErrEmailChanged = errors.New("the account's email changed since")

// ErrDeactivated means the account a token was sent to is deactivated: the token does nothing.
var ErrDeactivated = errors.New("the account is deactivated")

// PasswordError says why a new password breaks the users module's rules.
type PasswordError struct{ Message string }

// Error implements error.
func (e *PasswordError) Error() string { return "new_password " + e.Message }

// Accounts reads and changes accounts through the module that owns them.
type Accounts interface {
	// Account returns the account with the id, or ErrNoAccount.
	Account(ctx context.Context, id uuid.UUID) (Account, error)
	// Accounts returns the accounts of those ids that have one, by id (a batch in one read).
	Accounts(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Account, error)
	// AccountByEmail returns the account with the email (any case), or ErrNoAccount.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// VerifyEmail marks the account's email verified if it is still email, else
	// ErrEmailChanged (ErrDeactivated for a deactivated account).
	VerifyEmail(ctx context.Context, id uuid.UUID, email string) error
	// ResetPassword sets a new password proven by a mail to email (ErrEmailChanged if the
	// address moved, ErrDeactivated if the account is deactivated, a *PasswordError if the
	// password breaks the rules), verifies the email and ends every session.
	ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error
}

// Composer writes the mail of a job, with the link that carries the token.
type Composer interface {
	// Compose returns the message of a mail for the purpose to the account, whose link carries
	// token, working until expires.
	Compose(p domain.Purpose, to Account, token string, expires time.Time) (Message, error)
}

// OpaqueTokens makes the random tokens of mailed links, stored only as digests.
type OpaqueTokens interface {
	// New returns a new token and its digest.
	New() (token string, digest []byte)
	// Digest returns the digest a token is stored and looked up by.
	Digest(token string) []byte
}

// Throttle counts requests per key and blocks keys that ask too often (the platform's).
type Throttle interface {
	// Blocked returns how long key must still wait; 0 when it may go on.
	Blocked(key string) time.Duration
	// Fail counts one request of key; after limit within window, key is blocked for window.
	Fail(key string, limit int, window time.Duration)
	// Allow counts a use of key named use (an event's id: delivered twice, it counts once)
	// and returns 0 when fewer than limit were counted within window, else how long until
	// one leaves it.
	Allow(key, use string, limit int, window time.Duration) time.Duration
}

// Clock tells the time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}
