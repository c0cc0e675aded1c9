// Package domain is the notifications module's model: the mails it sends to prove an address
// (verification, password reset), their single-use tokens' lifetimes, and the sender's retry
// rule. It imports only the standard library and uuid.
package domain

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Purpose is what a mail, and the token in its link, is for. A token works for its purpose
// only.
type Purpose string

// The purposes.
const (
	PurposeVerifyEmail   Purpose = "verify_email"
	PurposeResetPassword Purpose = "reset_password"
)

// TTL is how long a token of the purpose works after its mail is sent: a day to verify an
// address, an hour to reset a password (OWASP's forgot-password guidance: short-lived).
func (p Purpose) TTL() time.Duration {
	if p == PurposeResetPassword {
		return time.Hour
	}
	return 24 * time.Hour
}

// ErrInvalidToken is the one answer to every token that does not work: unknown, used,
// expired, for another purpose, or sent to an address the account has since left.
var ErrInvalidToken = errors.New("the token is invalid or expired")

// Job is a mail to send: to the user, at email, for the purpose. It carries no token: the
// sender makes one per attempt.
type Job struct {
	ID      uuid.UUID
	Purpose Purpose
	UserID  uuid.UUID
	Email   string
	// RequestID is the request that asked for the mail, carried to the events of its sending.
	RequestID string
	CreatedAt time.Time
	// Attempts counts the sender's tries, this one included.
	Attempts int
}

// NewJob returns a job asked for at now.
func NewJob(id uuid.UUID, p Purpose, userID uuid.UUID, email, requestID string, now time.Time) Job {
	return Job{ID: id, Purpose: p, UserID: userID, Email: email, RequestID: requestID, CreatedAt: Timestamp(now)}
}

// Stale reports whether the job is too old to send at now: a mail asked for longer ago than
// its token would live is not worth sending.
func (j Job) Stale(now time.Time) bool { return now.Sub(j.CreatedAt) > j.Purpose.TTL() }

// Backoff is how long the sender waits after the job's attempt failed: a second, doubling, at
// most five minutes, so a mail goes out within minutes of the mail server's return.
func (j Job) Backoff() time.Duration {
	d := time.Second
	for i := 1; i < j.Attempts && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// Token is a sent mail's token, as stored: its digest, never the token.
type Token struct {
	Digest    []byte
	Purpose   Purpose
	UserID    uuid.UUID
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewToken returns the stored form of a token of j sent at now.
func NewToken(digest []byte, j Job, now time.Time) Token {
	now = Timestamp(now)
	return Token{Digest: digest, Purpose: j.Purpose, UserID: j.UserID, Email: j.Email, CreatedAt: now, ExpiresAt: now.Add(j.Purpose.TTL())}
}

// Timestamp normalises t the way storage keeps it: UTC, microseconds.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
