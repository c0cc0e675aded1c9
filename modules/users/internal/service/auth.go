package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

var (
	// ErrInvalidCredentials is the one answer to every failed login: unknown email, wrong
	// password, no password set, or a deactivated account.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrUnauthenticated means the request carries no usable token: missing, malformed,
	// badly signed, expired, or of a user who is gone or deactivated.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrWrongPassword is returned by ChangePassword when the current password is wrong.
	ErrWrongPassword = errors.New("the current password is wrong")
	// ErrEmailNotVerified is returned by Login, after a right password, when the policy
	// requires a verified email and the account's is not.
	ErrEmailNotVerified = errors.New("the email address is not verified")
)

// ThrottledError says the caller failed, or asked, too often and must wait.
type ThrottledError struct {
	RetryAfter time.Duration
	// Of is what there were too many of, as the answer says it; "" for failed attempts.
	Of string
}

// What is what there were too many of: Of, or failed attempts.
func (e *ThrottledError) What() string {
	if e.Of == "" {
		return "failed attempts"
	}
	return e.Of
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many %s; retry in %d seconds", e.What(), seconds(e.RetryAfter))
}

// seconds rounds d up to whole seconds, at least 1, as Retry-After wants.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up.
func (e *ThrottledError) RetryAfterSeconds() int { return seconds(e.RetryAfter) }

// LoginPolicy limits password guessing and says how long sessions live.
//
// Failures count three ways, each within Lockout: per account and client address, per client
// address, and per account from every address. The first two block the address (for that
// account, or for all) for Lockout. The third is only a back-off: it must not let anyone who
// knows an email address lock its owner out. Under it, an address that has failed on the
// account waits, and one that has not may still try, so the owner's right password from a
// clean address passes while an attacker spraying the account from many addresses gets one
// guess per address (and per IPv6 /64, see network) instead of MaxFailures.
type LoginPolicy struct {
	// SessionTTL bounds a session's life from its login, however often it is refreshed.
	SessionTTL time.Duration
	// RequireVerifiedEmail refuses logins of accounts whose email is not verified.
	RequireVerifiedEmail bool
	// MaxFailures of one account from one client address block that address for that account;
	// MaxFailuresPerAddr from one client address, whatever the accounts, block it for all.
	MaxFailures        int
	MaxFailuresPerAddr int
	// MaxFailuresPerAccount from all addresses put the account under back-off; 0 never does.
	MaxFailuresPerAccount int
	// Lockout is the window failures count in, and how long a block or a back-off lasts.
	Lockout time.Duration
}

// LoginInput is a login attempt.
type LoginInput struct {
	Email    string
	Password string
	// Client is where the attempt comes from: its address is throttled, and the session
	// remembers both.
	Client Client
}

// attempt names the throttle's keys of a login of an account (by the email given, so that an
// unknown one counts as a known one does) from a client address.
type attempt struct{ account, pair, addr string }

func loginAttempt(email, clientAddr string) attempt {
	account, network := strings.ToLower(email), network(clientAddr)
	return attempt{account: "account:" + account, pair: "pair:" + account + "|" + network, addr: "addr:" + network}
}

// network is what the throttle counts a client address as: an IPv4 address itself, an IPv6
// address its /64, the smallest network a host is given (RFC 6177), within which it may pick
// any address and would otherwise be 2^64 clean clients. An IPv4-mapped IPv6 address is its
// IPv4 address; anything that does not parse is counted as it is.
func network(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ip = ip.Unmap(); ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// Login checks an email and password, starts a session and issues its tokens. Every failure
// looks the same (ErrInvalidCredentials) and costs one password verification, whether or not
// the account exists. Past the policy's limits the answer is a *ThrottledError until they
// pass (see LoginPolicy).
func (s *Service) Login(ctx context.Context, in LoginInput) (Token, error) {
	at := loginAttempt(in.Email, in.Client.Addr)
	if err := s.throttled(at); err != nil {
		return Token{}, err
	}
	u, err := s.Users.GetByEmail(ctx, in.Email)
	var nf *domain.NotFoundError
	if err != nil && !errors.As(err, &nf) {
		return Token{}, err
	}
	ok, rehash, err := s.checkPassword(u, in.Password)
	if err != nil {
		return Token{}, err
	}
	if !ok || !u.IsActive() {
		s.fail(at)
		return Token{}, ErrInvalidCredentials
	}
	// This address proved itself. The account's count stays: it is everybody's failures,
	// which the owner's login says nothing about, and resetting it would hand an attacker
	// spraying the account a fresh allowance each time the owner logs in.
	s.Throttle.Reset(at.pair)
	if s.Policy.RequireVerifiedEmail && !u.EmailVerified() {
		// After the password check: only the account's owner learns this.
		return Token{}, ErrEmailNotVerified
	}
	if rehash {
		// The parameters were raised since this hash was made: store a stronger one. The
		// password is the same, so no event says it changed.
		if err := s.setPassword(ctx, u.ID(), in.Password, nil); err != nil {
			return Token{}, err
		}
	}
	return s.startSession(ctx, u, in.Client)
}

// checkPassword verifies password against u's hash, or against a dummy hash when u is nil or
// has no password, so that every path costs the same.
func (s *Service) checkPassword(u *domain.User, password string) (ok, rehash bool, err error) {
	if u == nil || !u.HasPassword() {
		dummy, err := s.dummyHash()
		if err != nil {
			return false, false, err
		}
		_, _, err = s.Hasher.Verify(password, dummy)
		return false, false, err
	}
	return s.Hasher.Verify(password, u.PasswordHash())
}

// throttled says whether the attempt must wait: its address is blocked, or blocked for the
// account, or the account is under back-off and this address has failed on it.
func (s *Service) throttled(at attempt) error {
	wait := max(s.Throttle.Blocked(at.addr), s.Throttle.Blocked(at.pair))
	if wait == 0 && s.Policy.MaxFailuresPerAccount > 0 {
		if backoff := s.Throttle.Blocked(at.account); backoff > 0 && s.Throttle.Failures(at.pair, s.Policy.Lockout) > 0 {
			wait = backoff
		}
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

func (s *Service) fail(at attempt) {
	s.Throttle.Fail(at.pair, s.Policy.MaxFailures, s.Policy.Lockout)
	s.Throttle.Fail(at.addr, s.Policy.MaxFailuresPerAddr, s.Policy.Lockout)
	if s.Policy.MaxFailuresPerAccount > 0 {
		s.Throttle.Fail(at.account, s.Policy.MaxFailuresPerAccount, s.Policy.Lockout)
	}
}

// Caller returns the account of a verified token (u.Actor() is who acts); the platform
// verifies tokens, this says whether they may still be used. The account and the token's
// session are read on every request, in one statement, so a deactivated user's tokens, and
// those of a revoked session, stop working at once, and a changed role applies at once:
// tokens carry identity, the database carries rights. The user read here is also the answer
// to "who am I".
func (s *Service) Caller(ctx context.Context, c ports.Credential) (*domain.User, error) {
	read, err := s.Users.GetCaller(ctx, c)
	if err != nil {
		return nil, err
	}
	return read.User, usable(read, c, s.Clock.Now())
}

// usable says whether the account read for c may act at now: it must exist and be active, and
// the token's session must still be one of its live ones.
func usable(read ports.CallerRead, c ports.Credential, now time.Time) error {
	switch {
	case read.User == nil:
		return fmt.Errorf("%w: user %s is gone", ErrUnauthenticated, c.UserID)
	case !read.User.IsActive():
		return fmt.Errorf("%w: user %s is deactivated", ErrUnauthenticated, c.UserID)
	case !read.SessionLive(now):
		return fmt.Errorf("%w: session %s of user %s was revoked or has expired", ErrUnauthenticated, c.SessionID, c.UserID)
	}
	return nil
}

// ChangePassword sets the actor's password after checking the current one, and ends every
// session of the actor, this one included: whoever learnt the old password may hold one. Wrong
// current passwords count as failed logins, so this is no side door for guessing.
func (s *Service) ChangePassword(ctx context.Context, actor domain.Actor, current, next, clientAddr string) error {
	if msg := domain.ValidatePassword(next); msg != "" {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "new_password", Message: msg}}}
	}
	u, err := s.Users.Get(ctx, actor.ID)
	if err != nil {
		return err
	}
	at := loginAttempt(u.Email(), clientAddr)
	if err := s.throttled(at); err != nil {
		return err
	}
	ok, _, err := s.checkPassword(u, current)
	if err != nil {
		return err
	}
	if !ok {
		s.fail(at)
		return ErrWrongPassword
	}
	return s.setPassword(ctx, actor.ID, next, &actor)
}

// ResetPassword sets the password of the user who proved, with a token mailed to email, that
// they receive mail there: the email becomes verified, and every session of the user ends. If
// the email changed since the token was sent, the proof is void: ErrEmailChanged; so it is
// for a deactivated user: ErrDeactivated.
func (s *Service) ResetPassword(ctx context.Context, id uuid.UUID, email, password string) error {
	if msg := domain.ValidatePassword(password); msg != "" {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "new_password", Message: msg}}}
	}
	hash, err := s.Hasher.Hash(password)
	if err != nil {
		return err
	}
	_, err = s.changeRevoking(ctx, id, &revocation{userevents.RevokedPasswordReset, id.String()}, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		if err := proofHolds(u, email); err != nil {
			return false, nil, err
		}
		u.SetPasswordHash(hash, now)
		evs := []ports.Event{userEvent(userevents.TypePasswordReset, id, now, u.Actor())}
		if u.VerifyEmail(now) {
			evs = append(evs, emailVerified(u, now, id.String()))
		}
		return true, evs, nil
	})
	return err
}

// setPassword stores a new hash of password; by names who changed it (a password_changed
// event), nil for a rehash of the same password.
func (s *Service) setPassword(ctx context.Context, id uuid.UUID, password string, by *domain.Actor) error {
	hash, err := s.Hasher.Hash(password)
	if err != nil {
		return err
	}
	var rev *revocation
	if by != nil {
		rev = &revocation{userevents.RevokedPasswordChanged, by.ID.String()}
	}
	_, err = s.changeRevoking(ctx, id, rev, func(u *domain.User, now time.Time) (bool, []ports.Event, error) {
		u.SetPasswordHash(hash, now)
		if by == nil {
			return true, nil, nil
		}
		return true, []ports.Event{userEvent(userevents.TypePasswordChanged, id, now, *by)}, nil
	})
	return err
}
