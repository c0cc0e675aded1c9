// Package token issues and verifies the service's access tokens: HS256 JWTs with iss, sub,
// exp, iat, jti, the user's role and sid, the session the token was issued in. Verification
// pins the algorithm, so "none" and every other algorithm are refused, and requires the issuer,
// an expiry and a session. It also makes the opaque tokens stored only as digests (Opaque).
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
)

// Issuer is the iss claim of every token.
const Issuer = "userservice"

// ErrInvalid is returned for any token that does not verify; the reason is wrapped for logs.
var ErrInvalid = errors.New("invalid token")

// Module provides the *Signer from JWT_SECRET and JWT_TTL.
var Module = fx.Module("token", fx.Provide(NewFromConfig))

// claims are the JWT claims of an access token.
type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
	// Session is the id of the session (a login and its refresh tokens) the token belongs to:
	// revoking the session ends the token at its next request.
	Session string `json:"sid"`
}

// Verified is what a verified token says.
type Verified struct {
	// Subject is the user the token was issued to.
	Subject uuid.UUID
	// Session is the session it was issued in.
	Session uuid.UUID
}

// Signer issues and verifies tokens with one HMAC key.
type Signer struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
	cache  *verifiedCache
}

// New returns a Signer with key (at least 32 bytes) issuing tokens valid for ttl; now is the
// clock (time.Now in production).
func New(key []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("token: the key must be at least 32 bytes")
	}
	return &Signer{
		key:   key,
		ttl:   ttl,
		now:   now,
		cache: newVerifiedCache(),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// NewFromConfig returns the Signer for JWT_SECRET. Config has already refused a missing secret
// on PostgreSQL; on the embedded default a missing secret gets a random one, with a warning,
// so `make run` works out of the box (tokens then die with the process).
func NewFromConfig(cfg config.Config, log *zap.Logger) (*Signer, error) {
	key := []byte(cfg.JWTSecret)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		log.Warn("JWT_SECRET is not set: signing tokens with a random secret; tokens will not survive a restart. Set JWT_SECRET (32+ bytes) for real use.")
	}
	return New(key, cfg.JWTTTL, time.Now)
}

// Issue returns a signed token for the user in the session, and its lifetime.
func (s *Signer) Issue(userID uuid.UUID, role string, session uuid.UUID) (string, time.Duration, error) {
	now := s.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   userID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
			ID:        uuid.NewString(),
		},
		Role:    role,
		Session: session.String(),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	if err != nil {
		return "", 0, fmt.Errorf("token: sign: %w", err)
	}
	return signed, s.ttl, nil
}

// Verify verifies token and returns its subject and session. A token verified before and not
// yet expired is answered from memory (see verifiedCache).
func (s *Signer) Verify(token string) (Verified, error) {
	key := sha256.Sum256([]byte(token))
	if v, ok := s.cache.get(key, s.now()); ok {
		return v, nil
	}
	var c claims
	if _, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return Verified{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var (
		v   Verified
		err error
	)
	if v.Subject, err = uuid.Parse(c.Subject); err != nil {
		return Verified{}, fmt.Errorf("%w: subject: %w", ErrInvalid, err)
	}
	// A token without a session (issued before sessions existed) cannot be revoked: refused.
	if v.Session, err = uuid.Parse(c.Session); err != nil {
		return Verified{}, fmt.Errorf("%w: session: %w", ErrInvalid, err)
	}
	s.cache.put(key, verifiedToken{claims: v, expires: c.ExpiresAt.Time}, s.now())
	return v, nil
}
