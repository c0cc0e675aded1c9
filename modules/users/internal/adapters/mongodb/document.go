package mongodb

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// userDoc is a user as the users collection keeps it: the aggregate of the module on MongoDB,
// with everything a use case changes together (the account, its sessions with their refresh
// tokens, and the events of its changes not yet published).
//
// Times are microseconds since 1970, the domain's precision: a BSON date holds milliseconds,
// and a time read back must equal the time saved.
type userDoc struct {
	ID bson.Binary `bson:"_id"`
	// Version counts the document's committed changes; every write is filtered on the version
	// its unit of work read (optimistic concurrency).
	Version         int64  `bson:"version"`
	Username        string `bson:"username"`
	Email           string `bson:"email"`
	UsernameKey     string `bson:"username_key"`
	EmailKey        string `bson:"email_key"`
	Active          bool   `bson:"is_active"`
	Role            string `bson:"role"`
	PasswordHash    string `bson:"password_hash"`
	EmailVerifiedAt int64  `bson:"email_verified_at"`
	CreatedAt       int64  `bson:"created_at"`
	UpdatedAt       int64  `bson:"updated_at"`

	Sessions []sessionDoc `bson:"sessions"`

	// LeavingAdmin marks an admin a unit of work is about to demote, deactivate or delete,
	// from before it counts the other admins until its change (see admins).
	LeavingAdmin bool `bson:"leaving_admin"`

	// The outbox (see events.MongoOutbox): written by this module, emptied by the relay.
	Outbox    []events.MongoPending `bson:"outbox"`
	OutboxSeq int64                 `bson:"outbox_seq"`
	Pending   bool                  `bson:"pending"`
	Deleted   bool                  `bson:"deleted"`
}

// sessionDoc is a session inside its user's document.
type sessionDoc struct {
	ID         bson.Binary `bson:"id"`
	UserAgent  string      `bson:"user_agent"`
	ClientAddr string      `bson:"client_addr"`
	CreatedAt  int64       `bson:"created_at"`
	LastUsedAt int64       `bson:"last_used_at"`
	ExpiresAt  int64       `bson:"expires_at"`
	// Tokens are the digests of the session's refresh tokens: the current one, unused, and
	// the used ones before it, kept so that presenting one again is seen as reuse.
	Tokens []tokenDoc `bson:"tokens"`
}

// tokenDoc is a refresh token's digest and when it was used (0: not yet).
type tokenDoc struct {
	Digest []byte `bson:"digest"`
	UsedAt int64  `bson:"used_at"`
}

// KeptUsedTokens bounds the used refresh tokens a session remembers, so that a session
// refreshed every few minutes for a month does not grow its user's document without end.
// Presenting a used token older than these is an unknown token (401) rather than a reuse that
// revokes the session; the SQL engines remember every one until the session ends.
const KeptUsedTokens = 100

// fromBinary reads an id the adapter wrote (database.MongoID): always 16 bytes.
func fromBinary(b bson.Binary) uuid.UUID {
	id, _ := database.FromMongoID(b)
	return id
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// key is the normalised form of an email or username that the unique indexes compare, so that
// they ignore case as the SQL engines' indexes on lower(...) do.
func key(s string) string { return strings.ToLower(s) }

// newDoc returns the document of a user just registered.
func newDoc(u *domain.User) *userDoc {
	d := &userDoc{ID: database.MongoID(u.ID()), Sessions: []sessionDoc{}, Outbox: []events.MongoPending{}}
	d.set(u)
	return d
}

// set copies the user's state into the document.
func (d *userDoc) set(u *domain.User) {
	s := u.Snapshot()
	d.Username, d.Email = s.Username, s.Email
	d.UsernameKey, d.EmailKey = key(s.Username), key(s.Email)
	d.Active, d.Role, d.PasswordHash = s.Active, string(s.Role), s.PasswordHash
	d.EmailVerifiedAt, d.CreatedAt, d.UpdatedAt = micros(s.EmailVerifiedAt), micros(s.CreatedAt), micros(s.UpdatedAt)
}

// user returns the domain user the document holds.
func (d *userDoc) user() *domain.User {
	return domain.Restore(domain.Snapshot{
		ID:              fromBinary(d.ID),
		Username:        d.Username,
		Email:           d.Email,
		Active:          d.Active,
		Role:            domain.Role(d.Role),
		PasswordHash:    d.PasswordHash,
		EmailVerifiedAt: fromMicros(d.EmailVerifiedAt),
		CreatedAt:       fromMicros(d.CreatedAt),
		UpdatedAt:       fromMicros(d.UpdatedAt),
	})
}

// session returns the index of the session with the id, or -1.
func (d *userDoc) session(id uuid.UUID) int {
	return slices.IndexFunc(d.Sessions, func(s sessionDoc) bool { return fromBinary(s.ID) == id })
}

// sessionExpiry is when the session with the id ends, in whole seconds as the port reads it;
// zero when the user has no such session.
func (d *userDoc) sessionExpiry(id uuid.UUID) time.Time {
	if i := d.session(id); i >= 0 {
		return time.Unix(fromMicros(d.Sessions[i].ExpiresAt).Unix(), 0).UTC()
	}
	return time.Time{}
}

func newSessionDoc(s domain.Session, digest []byte) sessionDoc {
	sd := sessionDoc{ID: database.MongoID(s.ID), Tokens: []tokenDoc{{Digest: digest}}}
	sd.set(s)
	return sd
}

func (sd *sessionDoc) set(s domain.Session) {
	sd.UserAgent, sd.ClientAddr = s.UserAgent, s.ClientAddr
	sd.CreatedAt, sd.LastUsedAt, sd.ExpiresAt = micros(s.CreatedAt), micros(s.LastUsedAt), micros(s.ExpiresAt)
}

func (sd *sessionDoc) domain(userID uuid.UUID) domain.Session {
	return domain.Session{
		ID:         fromBinary(sd.ID),
		UserID:     userID,
		UserAgent:  sd.UserAgent,
		ClientAddr: sd.ClientAddr,
		CreatedAt:  fromMicros(sd.CreatedAt),
		LastUsedAt: fromMicros(sd.LastUsedAt),
		ExpiresAt:  fromMicros(sd.ExpiresAt),
	}
}

// rotate gives the session a new current token, forgetting the oldest used ones beyond
// KeptUsedTokens.
func (sd *sessionDoc) rotate(digest []byte) {
	used := sd.Tokens[:0:0]
	for _, t := range sd.Tokens {
		if t.UsedAt != 0 {
			used = append(used, t)
		}
	}
	if len(used) > KeptUsedTokens {
		used = used[len(used)-KeptUsedTokens:]
	}
	sd.Tokens = append(used, tokenDoc{Digest: digest})
}
