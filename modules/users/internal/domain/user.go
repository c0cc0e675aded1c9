package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Role says what a user may do.
type Role string

const (
	// RoleUser is the role of every self-registered user.
	RoleUser Role = "user"
	// RoleAdmin may manage other users.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Limits of the user's fields; the OpenAPI schema mirrors them.
const (
	UsernameMinLen = 3
	UsernameMaxLen = 50
	EmailMaxLen    = 254
)

var (
	usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	emailPattern    = regexp.MustCompile(`^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`)
)

// User is a registered user. Its fields are private so that every User in the program went
// through NewUser or Restore and satisfies the rules; change it only through its methods.
type User struct {
	id       uuid.UUID
	username string
	email    string
	active   bool
	role     Role
	// passwordHash is the encoded hash of the password; "" when none is set.
	passwordHash string
	// emailVerifiedAt is when the user proved they receive mail at email; zero until then.
	emailVerifiedAt time.Time
	createdAt       time.Time
	updatedAt       time.Time
}

// NewUser validates username and email and returns a new active user with role RoleUser,
// created at now. The error is a *ValidationError naming every invalid field.
func NewUser(id uuid.UUID, username, email string, now time.Time) (*User, error) {
	var verr ValidationError
	verr.check("username", ValidateUsername(username))
	verr.check("email", ValidateEmail(email))
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	now = Timestamp(now)
	return &User{
		id:        id,
		username:  username,
		email:     email,
		active:    true,
		role:      RoleUser,
		createdAt: now,
		updatedAt: now,
	}, nil
}

// Snapshot is the full state of a user, as storage keeps it.
type Snapshot struct {
	ID       uuid.UUID
	Username string
	Email    string
	Active   bool
	Role     Role
	// PasswordHash is the encoded password hash, "" when the user has no password.
	PasswordHash string
	// EmailVerifiedAt is when the email was verified; zero while it is not.
	EmailVerifiedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Restore rebuilds a user from stored state. Storage adapters use it; the state is trusted to
// have passed the rules when it was saved, so it is not validated again.
func Restore(s Snapshot) *User {
	return &User{
		id:              s.ID,
		username:        s.Username,
		email:           s.Email,
		active:          s.Active,
		role:            s.Role,
		passwordHash:    s.PasswordHash,
		emailVerifiedAt: s.EmailVerifiedAt,
		createdAt:       s.CreatedAt,
		updatedAt:       s.UpdatedAt,
	}
}

// Snapshot returns the user's state for storage and presentation.
func (u *User) Snapshot() Snapshot {
	return Snapshot{
		ID:              u.id,
		Username:        u.username,
		Email:           u.email,
		Active:          u.active,
		Role:            u.role,
		PasswordHash:    u.passwordHash,
		EmailVerifiedAt: u.emailVerifiedAt,
		CreatedAt:       u.createdAt,
		UpdatedAt:       u.updatedAt,
	}
}

// ID returns the user's id.
func (u *User) ID() uuid.UUID { return u.id }

// Username returns the user's username.
func (u *User) Username() string { return u.username }

// Email returns the user's email address.
func (u *User) Email() string { return u.email }

// IsActive reports whether the user is active.
func (u *User) IsActive() bool { return u.active }

// Role returns the user's role.
func (u *User) Role() Role { return u.role }

// PasswordHash returns the encoded password hash, "" when the user has no password.
func (u *User) PasswordHash() string { return u.passwordHash }

// HasPassword reports whether the user can log in with a password.
func (u *User) HasPassword() bool { return u.passwordHash != "" }

// SetPasswordHash stores a new password hash. The password itself never reaches the domain
// object: callers validate it with ValidatePassword and hash it first.
func (u *User) SetPasswordHash(hash string, now time.Time) {
	u.passwordHash = hash
	u.updatedAt = Timestamp(now)
}

// EmailVerified reports whether the user proved they receive mail at their current address.
func (u *User) EmailVerified() bool { return !u.emailVerifiedAt.IsZero() }

// EmailVerifiedAt returns when the email was verified; zero while it is not.
func (u *User) EmailVerifiedAt() time.Time { return u.emailVerifiedAt }

// VerifyEmail marks the current address verified. Verifying a verified address changes
// nothing and reports false. Callers check that the proof (a token sent to the address) is
// for this very address: a token sent to an address the user has since left proves nothing.
func (u *User) VerifyEmail(now time.Time) bool {
	if u.EmailVerified() {
		return false
	}
	u.emailVerifiedAt = Timestamp(now)
	u.updatedAt = u.emailVerifiedAt
	return true
}

// CreatedAt returns when the user registered.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// UpdatedAt returns when the user last changed.
func (u *User) UpdatedAt() time.Time { return u.updatedAt }

// CanReceiveEmail reports whether mail may be sent to the user: only active users get mail.
func (u *User) CanReceiveEmail() bool { return u.active }

// Deactivate marks the user inactive. It is idempotent: deactivating an inactive user changes
// nothing, not even the update time, and reports false.
func (u *User) Deactivate(now time.Time) bool {
	if !u.active {
		return false
	}
	u.active = false
	u.updatedAt = Timestamp(now)
	return true
}

// Activate marks the user active; like Deactivate it is idempotent and reports whether
// anything changed.
func (u *User) Activate(now time.Time) bool {
	if u.active {
		return false
	}
	u.active = true
	u.updatedAt = Timestamp(now)
	return true
}

// Changes lists the fields an update sets; nil fields stay as they are.
type Changes struct {
	Username *string
	Email    *string
	// Role may be changed by admins only (see CanChange).
	Role *Role
}

// Validate checks every field c sets; the error is a *ValidationError naming each invalid one.
func (c Changes) Validate() error {
	var verr ValidationError
	if c.Username != nil {
		verr.check("username", ValidateUsername(*c.Username))
	}
	if c.Email != nil {
		verr.check("email", ValidateEmail(*c.Email))
	}
	if c.Role != nil && !c.Role.Valid() {
		verr.check("role", "must be user or admin")
	}
	return verr.orNil()
}

// Apply validates and applies c. Nothing changes unless every field is valid. It reports
// whether the user changed; the update time moves only when a value does.
func (u *User) Apply(c Changes, now time.Time) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	changed := false
	if c.Username != nil && *c.Username != u.username {
		u.username, changed = *c.Username, true
	}
	if c.Email != nil && *c.Email != u.email {
		// A new address is unproven, whoever set it; a new spelling of the same one (emails
		// are unique without regard to case) is not a new address.
		if !strings.EqualFold(*c.Email, u.email) {
			u.emailVerifiedAt = time.Time{}
		}
		u.email, changed = *c.Email, true
	}
	if c.Role != nil && *c.Role != u.role {
		u.role, changed = *c.Role, true
	}
	if changed {
		u.updatedAt = Timestamp(now)
	}
	return changed, nil
}

// ValidateUsername returns why s is not a valid username, or "" when it is.
func ValidateUsername(s string) string {
	switch {
	case len(s) < UsernameMinLen:
		return "must be at least 3 characters"
	case len(s) > UsernameMaxLen:
		return "must be at most 50 characters"
	case !usernamePattern.MatchString(s):
		return "must contain only letters, digits and underscores"
	}
	return ""
}

// ValidateEmail returns why s is not a valid email address, or "" when it is.
func ValidateEmail(s string) string {
	switch {
	case len(s) > EmailMaxLen:
		return "must be at most 254 characters"
	case !emailPattern.MatchString(s):
		return "must be a valid email address"
	}
	return ""
}

// Password length limits, in characters. Longer passwords are rejected, never truncated.
const (
	PasswordMinLen = 8
	PasswordMaxLen = 128
)

// The rules a password's content breaks, as ValidatePassword says them.
const (
	MsgPasswordWhitespace = "must not be only whitespace"
	MsgPasswordCommon     = "is a commonly used password"
)

// ValidatePassword returns why s is not an acceptable password, or "" when it is. Beside its
// length, NIST SP 800-63B (5.1.1.2) asks that a password be compared with passwords known to
// be common and refused if it is one; one of white space alone is refused as well, since it
// looks like a password to the length rule and is none.
func ValidatePassword(s string) string {
	switch n := utf8.RuneCountInString(s); {
	case n < PasswordMinLen:
		return "must be at least 8 characters"
	case n > PasswordMaxLen:
		return "must be at most 128 characters"
	case onlyWhitespace(s):
		return MsgPasswordWhitespace
	case IsCommonPassword(s):
		return MsgPasswordCommon
	}
	return ""
}

// Timestamp normalises t the way storage keeps it: UTC, truncated to microseconds, so that a
// user read back equals the user saved on every engine.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Promote makes the user an admin.
func (u *User) Promote(now time.Time) {
	if u.role != RoleAdmin {
		u.role = RoleAdmin
		u.updatedAt = Timestamp(now)
	}
}
