// Package service holds the notifications module's use cases: asking for mails (a verification
// on registration or a new address, a password reset, a verification again), sending them with
// retries, and taking their tokens back. It knows nothing of HTTP, SQL or SMTP.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	notifevents "github.com/acme/userservice/modules/notifications/events"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

// Limits on asking for mail, per window: per account (or, for resets, per address asked
// about, whether or not it has an account) and per client address.
const (
	MailsPerAccount = 3
	MailsPerClient  = 10
	MailWindow      = 15 * time.Minute
)

// Limits on verification mails per recipient address, whoever asks: a registration or a new
// address asks for one to an address its caller chose, so this is what keeps the service from
// being aimed at a mailbox. An hour, so that what passes the per-account limits of resends
// (MailsPerAccount per MailWindow) is still bounded per mailbox.
const (
	MailsPerRecipient = 5
	RecipientWindow   = time.Hour
)

// recipientKey is the throttle's key of the mailbox at email: in lower case and without a
// +tag, which most providers deliver to the same mailbox, so that alice+1@, alice+2@, … count
// as the one mailbox they reach. (Only the key: the mail goes to the address as given.)
func recipientKey(email string) string {
	email = strings.ToLower(email)
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		if plus := strings.IndexByte(email[:at], '+'); plus > 0 {
			email = email[:plus] + email[at:]
		}
	}
	return "verify:recipient:" + email
}

// ActorAnonymous is the actor of a password reset request: whoever asked did not log in.
const ActorAnonymous = "anonymous"

var (
	// ErrAlreadyVerified is returned when a verification mail is asked for a verified address.
	ErrAlreadyVerified = errors.New("the email address is already verified")
)

// ThrottledError says the caller asked for mail too often and must wait.
type ThrottledError struct {
	RetryAfter time.Duration
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many mails asked for; retry in %d seconds", e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements ports.Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Deps are the ports the service runs on.
type Deps struct {
	Store    ports.Store
	Accounts ports.Accounts
	Mailer   ports.Mailer
	Composer ports.Composer
	Opaque   ports.OpaqueTokens
	Throttle ports.Throttle
	Clock    ports.Clock
	// ResetFloor is the least time a password reset request takes, whether or not the address
	// has an account, so that its timing does not tell.
	ResetFloor time.Duration
	// Wake, when set, tells the sender a job was stored.
	Wake func()
}

// Service runs the notifications use cases.
type Service struct {
	Deps
}

// New returns a Service on deps.
func New(deps Deps) *Service { return &Service{Deps: deps} }

// throttle counts a request under each key and refuses it when a key is over its limit.
func (s *Service) throttle(limits map[string]int) error {
	var wait time.Duration
	for k := range limits {
		wait = max(wait, s.Throttle.Blocked(k))
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	for k, limit := range limits {
		s.Throttle.Fail(k, limit, MailWindow)
	}
	return nil
}

func (s *Service) addJob(ctx context.Context, j domain.Job, evs ...ports.Event) error {
	if err := s.Store.AddJob(ctx, j, evs...); err != nil {
		return err
	}
	s.wake()
	return nil
}

// wake tells the sender, when there is one to tell, that jobs were stored.
func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

func newJob(p domain.Purpose, userID uuid.UUID, email, requestID string, now time.Time) (domain.Job, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Job{}, err
	}
	return domain.NewJob(id, p, userID, email, requestID, now), nil
}

// RequestPasswordReset mails a reset link to the account with email, if it exists and may
// receive mail. Whatever the case, it answers alike (nil, or the same throttling) and takes at
// least ResetFloor: neither the answer nor its timing tells whether the address has an account.
func (s *Service) RequestPasswordReset(ctx context.Context, email, clientAddr string) (err error) {
	start := time.Now()
	defer func() {
		if err == nil {
			sleepUntil(ctx, start.Add(s.ResetFloor))
		}
	}()
	if err := s.throttle(map[string]int{
		"reset:email:" + strings.ToLower(email): MailsPerAccount,
		"reset:client:" + clientAddr:            MailsPerClient,
	}); err != nil {
		return err
	}
	a, err := s.Accounts.AccountByEmail(ctx, email)
	if errors.Is(err, ports.ErrNoAccount) || (err == nil && !a.CanReceiveEmail) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	j, err := newJob(domain.PurposeResetPassword, a.ID, a.Email, "", now)
	if err != nil {
		return err
	}
	return s.addJob(ctx, j, ports.Event{Type: notifevents.TypePasswordResetRequested, Subject: a.ID, Time: now,
		Actor: ActorAnonymous, Data: notifevents.ResetRequested{UserID: a.ID}})
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// ResendVerification mails the user a new verification link; the older ones stop working
// when it is sent.
func (s *Service) ResendVerification(ctx context.Context, userID uuid.UUID, clientAddr string) error {
	a, err := s.Accounts.Account(ctx, userID)
	if err != nil {
		return err
	}
	if a.EmailVerified {
		return ErrAlreadyVerified
	}
	if err := s.throttle(map[string]int{
		"verify:user:" + userID.String(): MailsPerAccount,
		"verify:client:" + clientAddr:    MailsPerClient,
	}); err != nil {
		return err
	}
	if wait := s.Throttle.Allow(recipientKey(a.Email), "", MailsPerRecipient, RecipientWindow); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	j, err := newJob(domain.PurposeVerifyEmail, a.ID, a.Email, "", s.Clock.Now())
	if err != nil {
		return err
	}
	return s.addJob(ctx, j)
}

// Ask is an event that asks for a verification mail to the user at Email.
type Ask struct {
	EventID   uuid.UUID
	UserID    uuid.UUID
	Email     string
	RequestID string
}

// AskVerification asks for the verification mails of events (on registration, and when an
// address changes), once per event and handler, in one transaction. An ask whose recipient
// has had MailsPerRecipient within RecipientWindow is dropped, not failed: failing would only
// have the event delivered again, and the mail is one nobody should get. It is returned in
// throttled, for the log and the metrics. Each ask counts under its event's id, so an event
// delivered again (a batch whose transaction failed) does not count twice.
func (s *Service) AskVerification(ctx context.Context, handler string, asks ...Ask) (throttled []Ask, err error) {
	now := s.Clock.Now()
	jobs := make([]ports.EventJob, 0, len(asks))
	for _, a := range asks {
		if s.Throttle.Allow(recipientKey(a.Email), a.EventID.String(), MailsPerRecipient, RecipientWindow) > 0 {
			throttled = append(throttled, a)
			continue
		}
		j, err := newJob(domain.PurposeVerifyEmail, a.UserID, a.Email, a.RequestID, now)
		if err != nil {
			return throttled, err
		}
		jobs = append(jobs, ports.EventJob{EventID: a.EventID, Job: j})
	}
	if len(jobs) == 0 {
		return throttled, nil
	}
	if err := s.Store.AddJobsOnce(ctx, handler, jobs...); err != nil {
		return throttled, err
	}
	s.wake()
	return throttled, nil
}

// VerifyEmail takes back a verification token: the address it was sent to becomes verified.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	return s.useToken(ctx, token, domain.PurposeVerifyEmail, func(id uuid.UUID, email string) error {
		return s.Accounts.VerifyEmail(ctx, id, email)
	})
}

// ConfirmPasswordReset takes back a reset token and sets the new password (the users module
// also verifies the address and ends every session).
func (s *Service) ConfirmPasswordReset(ctx context.Context, token, password string) error {
	return s.useToken(ctx, token, domain.PurposeResetPassword, func(id uuid.UUID, email string) error {
		return s.Accounts.ResetPassword(ctx, id, email, password)
	})
}

// useToken consumes token for purpose p and does what it proves. The token is consumed first,
// so that of two concurrent uses one does it; the users module does it in a transaction of
// its own, so when that fails (the database, the request's time, the new password), the token
// is given back and its link works again: a failure of ours must not cost the user a mail.
// A failure whose commit is in doubt (the connection lost while committing) gives it back too,
// though the change may have been made: verifying again changes nothing, and whoever holds a
// reset link reads the mailbox, where they could ask for a new one anyway. A token whose
// account is gone, deactivated, or has another address now, stays used: it proves nothing.
func (s *Service) useToken(ctx context.Context, token string, p domain.Purpose, do func(id uuid.UUID, email string) error) error {
	digest := s.Opaque.Digest(token)
	// In microseconds, as every store keeps it: ReleaseToken tells this use apart by it.
	now := s.Clock.Now().UTC().Truncate(time.Microsecond)
	id, email, err := s.Store.UseToken(ctx, digest, p, now)
	if err != nil {
		return err
	}
	err = do(id, email)
	if errors.Is(err, ports.ErrNoAccount) || errors.Is(err, ports.ErrEmailChanged) || errors.Is(err, ports.ErrDeactivated) {
		return fmt.Errorf("%w: %w", domain.ErrInvalidToken, err)
	}
	if err != nil {
		// Even when the request's context is over (that may be why it failed), but not for
		// longer than releaseTimeout: the store may be what failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := s.Store.ReleaseToken(rctx, digest, p, now); rerr != nil {
			return errors.Join(err, fmt.Errorf("the token could not be given back: %w", rerr))
		}
	}
	return err
}

// releaseTimeout bounds the giving back of a token whose use failed.
const releaseTimeout = 5 * time.Second

// Forget deletes what the module holds about a user who is being deleted.
func (s *Service) Forget(ctx context.Context, userID uuid.UUID) error {
	return s.Store.Forget(ctx, userID)
}
