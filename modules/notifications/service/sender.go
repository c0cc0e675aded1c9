package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/userservice/modules/notifications/domain"
	"github.com/acme/userservice/modules/notifications/ports"
)

// Outcome is what SendNext did.
type Outcome int

// The outcomes.
const (
	// Idle: no job was due.
	Idle Outcome = iota
	// Sent: a mail went out, and its token works.
	Sent
	// Dropped: the mail is no longer wanted (account gone or inactive, address changed or
	// already verified).
	Dropped
	// Retried: sending failed; the job is put off (Backoff).
	Retried
	// Abandoned: the job was asked for longer ago than its token would live.
	Abandoned
)

// SendNext sends the most overdue due job, if any. The token is made for this attempt, stored
// just before the mail goes out (a reader may click faster than a commit), deleted if it does
// not, and only once it did does it void the user's older links: a failed attempt leaves the
// links already sent working. The error says why a job was retried or abandoned, for the log.
func (s *Service) SendNext(ctx context.Context) (Outcome, error) {
	now := s.Clock.Now()
	j, ok, err := s.Store.ClaimJob(ctx, now, now.Add(lease))
	if err != nil || !ok {
		return Idle, err
	}
	if j.Stale(now) {
		return Abandoned, errors.Join(fmt.Errorf("mail %s (%s) abandoned after %d attempts", j.ID, j.Purpose, j.Attempts-1),
			s.Store.DropJob(ctx, j.ID))
	}
	a, err := s.Accounts.Account(ctx, j.UserID)
	if errors.Is(err, ports.ErrNoAccount) || (err == nil && !wanted(j, a)) {
		return Dropped, s.Store.DropJob(ctx, j.ID)
	}
	if err != nil {
		return s.retry(ctx, j, err)
	}
	tok, digest := s.Opaque.New()
	t := domain.NewToken(digest, j, now)
	msg, err := s.Composer.Compose(j.Purpose, a, tok, t.ExpiresAt)
	if err != nil {
		return s.retry(ctx, j, err)
	}
	msg.To = j.Email
	if err := s.Store.AddToken(ctx, t); err != nil {
		return s.retry(ctx, j, err)
	}
	if err := s.Mailer.Send(ctx, msg); err != nil {
		return s.retry(ctx, j, errors.Join(err, s.Store.DropToken(context.WithoutCancel(ctx), digest)))
	}
	typ := domain.EventVerificationSent
	if j.Purpose == domain.PurposeResetPassword {
		typ = domain.EventPasswordResetSent
	}
	return Sent, s.Store.Sent(ctx, j, t, ports.Event{Type: typ, Subject: j.UserID, Time: now, Actor: "system",
		RequestID: j.RequestID, Data: domain.Sent{UserID: j.UserID, Email: j.Email, ExpiresAt: t.ExpiresAt}})
}

// wanted says whether the account still wants the job's mail.
func wanted(j domain.Job, a ports.Account) bool {
	if !a.CanReceiveEmail || !strings.EqualFold(a.Email, j.Email) {
		return false
	}
	return j.Purpose != domain.PurposeVerifyEmail || !a.EmailVerified
}

func (s *Service) retry(ctx context.Context, j domain.Job, cause error) (Outcome, error) {
	next := s.Clock.Now().Add(j.Backoff())
	err := fmt.Errorf("mail %s (%s), attempt %d, retried at %s: %w", j.ID, j.Purpose, j.Attempts, next.Format("15:04:05"), cause)
	return Retried, errors.Join(err, s.Store.RetryJob(ctx, j.ID, next, cause.Error()))
}
