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

// Outcome is what became of a job in SendDue.
type Outcome int

// The outcomes.
const (
	// Sent: the mail went out, and its token works.
	Sent Outcome = iota
	// Dropped: the mail is no longer wanted (account gone or inactive, address changed or
	// already verified).
	Dropped
	// Retried: sending failed; the job is put off (Backoff).
	Retried
	// Abandoned: the job was asked for longer ago than its token would live.
	Abandoned
	// Rejected: the mail server refused the recipient for good (ports.ErrRejected).
	Rejected
)

// lease is how long a claimed job is the claimer's: far longer than an SMTP timeout.
const lease = 2 * time.Minute

// Batch is how many due jobs SendDue takes at once: the database work of a batch is three
// transactions (claim, tokens, record), whatever its size.
const Batch = 32

// SendDue sends up to Batch of the most overdue due jobs, and returns how many of each outcome
// there were (none when no job was due). Each token is made for its attempt and stored just
// before its mail goes out (a reader may click faster than a commit); a mail that does not go
// out has its token deleted, and only a sent one voids its user's older links, so a failed
// attempt leaves the links already sent working. The error says why jobs were retried or
// abandoned, for the log.
func (s *Service) SendDue(ctx context.Context) (map[Outcome]int, error) {
	now := s.Clock.Now()
	jobs, err := s.Store.ClaimJobs(ctx, now, now.Add(lease), Batch)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	outcomes := map[Outcome]int{}
	var (
		errs    []error
		pending []mail
	)
	// The accounts of the batch in one read: a job's mail is wanted or not by its account now.
	live := make([]domain.Job, 0, len(jobs))
	ids := make([]uuid.UUID, 0, len(jobs))
	for _, j := range jobs {
		if j.Stale(now) {
			outcomes[Abandoned]++
			errs = append(errs, errors.Join(fmt.Errorf("mail %s (%s) abandoned after %d attempts", j.ID, j.Purpose, j.Attempts-1),
				s.Store.DropJob(ctx, j.ID)))
			continue
		}
		live = append(live, j)
		ids = append(ids, j.UserID)
	}
	var accounts map[uuid.UUID]ports.Account
	if len(live) > 0 {
		if accounts, err = s.Accounts.Accounts(ctx, ids); err != nil {
			for _, j := range live {
				outcomes[Retried]++
				errs = append(errs, s.retry(ctx, j, err))
			}
			return outcomes, errors.Join(errs...)
		}
	}
	for _, j := range live {
		m, out, err := s.prepare(ctx, j, accounts, now)
		if out != Sent {
			outcomes[out]++
			errs = append(errs, err)
			continue
		}
		pending = append(pending, m)
	}
	if len(pending) == 0 {
		return outcomes, errors.Join(errs...)
	}
	tokens := make([]domain.Token, len(pending))
	for i, m := range pending {
		tokens[i] = m.token
	}
	if err := s.Store.AddTokens(ctx, tokens...); err != nil {
		for _, m := range pending {
			outcomes[Retried]++
			errs = append(errs, s.retry(ctx, m.job, err))
		}
		return outcomes, errors.Join(errs...)
	}
	var sent []ports.SentJob
	for _, m := range pending {
		if err := s.Mailer.Send(ctx, m.msg); err != nil {
			dropped := s.Store.DropToken(context.WithoutCancel(ctx), m.token.Digest)
			if errors.Is(err, ports.ErrRejected) {
				// Sending again would fail again: the job ends here, and the log says why.
				outcomes[Rejected]++
				errs = append(errs, fmt.Errorf("mail %s (%s) dropped: %w", m.job.ID, m.job.Purpose, err), dropped, s.Store.DropJob(ctx, m.job.ID))
				continue
			}
			outcomes[Retried]++
			errs = append(errs, s.retry(ctx, m.job, errors.Join(err, dropped)))
			continue
		}
		typ := notifevents.TypeVerificationSent
		if m.job.Purpose == domain.PurposeResetPassword {
			typ = notifevents.TypePasswordResetSent
		}
		sent = append(sent, ports.SentJob{Job: m.job, Token: m.token, Event: ports.Event{
			Type: typ, Subject: m.job.UserID, Time: now, Actor: "system", RequestID: m.job.RequestID,
			Data: notifevents.Sent{UserID: m.job.UserID, Email: m.job.Email, ExpiresAt: m.token.ExpiresAt},
		}})
	}
	outcomes[Sent] += len(sent)
	if len(sent) > 0 {
		// If this fails the mails went out anyway: their jobs' leases run out, and they are
		// sent again (mail is at least once).
		errs = append(errs, s.Store.Sent(ctx, sent...))
	}
	return outcomes, errors.Join(errs...)
}

// mail is a job ready to go: its message, and the token the message carries.
type mail struct {
	job   domain.Job
	token domain.Token
	msg   ports.Message
}

// prepare checks that the job is still wanted by its account (in accounts, or gone) and writes
// its mail with a new token; an outcome other than Sent says what became of it instead.
func (s *Service) prepare(ctx context.Context, j domain.Job, accounts map[uuid.UUID]ports.Account, now time.Time) (mail, Outcome, error) {
	a, ok := accounts[j.UserID]
	if !ok || !wanted(j, a) {
		return mail{}, Dropped, s.Store.DropJob(ctx, j.ID)
	}
	tok, digest := s.Opaque.New()
	t := domain.NewToken(digest, j, now)
	msg, err := s.Composer.Compose(j.Purpose, a, tok, t.ExpiresAt)
	if err != nil {
		return mail{}, Retried, s.retry(ctx, j, err)
	}
	msg.To = j.Email
	return mail{job: j, token: t, msg: msg}, Sent, nil
}

// wanted says whether the account still wants the job's mail.
func wanted(j domain.Job, a ports.Account) bool {
	if !a.CanReceiveEmail || !strings.EqualFold(a.Email, j.Email) {
		return false
	}
	return j.Purpose != domain.PurposeVerifyEmail || !a.EmailVerified
}

// retry puts the job off by its backoff, and returns why, for the log.
func (s *Service) retry(ctx context.Context, j domain.Job, cause error) error {
	next := s.Clock.Now().Add(j.Backoff())
	err := fmt.Errorf("mail %s (%s), attempt %d, retried at %s: %w", j.ID, j.Purpose, j.Attempts, next.Format("15:04:05"), cause)
	return errors.Join(err, s.Store.RetryJob(ctx, j.ID, next, cause.Error()))
}
