package domain

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// UserAgentMaxLen bounds the user agent a session keeps, in bytes: enough for any real
// browser's, and a client cannot make a session row large.
const UserAgentMaxLen = 512

// Session is one login of a user: the refresh tokens it is given in turn, and the access
// tokens issued with them, name it. It lives until it expires or is revoked, whichever comes
// first; revoking it ends its tokens at their next use.
type Session struct {
	ID     uuid.UUID
	UserID uuid.UUID
	// UserAgent and ClientAddr describe the device that logged in and, after each refresh,
	// the one that last used the session: what a user needs to recognise it in a list.
	UserAgent  string
	ClientAddr string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt bounds the session's life however often it is refreshed: a stolen refresh
	// token does not keep a session alive forever.
	ExpiresAt time.Time
}

// NewSession returns the session of a login at now, living for ttl.
func NewSession(id, userID uuid.UUID, userAgent, clientAddr string, now time.Time, ttl time.Duration) Session {
	now = Timestamp(now)
	return Session{
		ID:         id,
		UserID:     userID,
		UserAgent:  clip(userAgent),
		ClientAddr: clientAddr,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  Timestamp(now.Add(ttl)),
	}
}

// Live reports whether the session may still be used at now.
func (s Session) Live(now time.Time) bool { return now.Before(s.ExpiresAt) }

// Used records a use of the session (a refresh) at now from the device described.
func (s *Session) Used(userAgent, clientAddr string, now time.Time) {
	s.UserAgent, s.ClientAddr, s.LastUsedAt = clip(userAgent), clientAddr, Timestamp(now)
}

// clip cuts a user agent to UserAgentMaxLen bytes without splitting a character, and drops
// what is not valid UTF-8 (the header is the client's to fill).
func clip(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	if len(ua) <= UserAgentMaxLen {
		return ua
	}
	cut := UserAgentMaxLen
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}
