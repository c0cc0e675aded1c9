// Package hashing adapts the platform's argon2id hasher to the users module's PasswordHasher
// port, translating its load shedding into the port's ErrHasherBusy, which the service knows.
package hashing

import (
	"errors"
	"fmt"

	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/password"
)

// Hasher is a *password.Hasher in the words of the port.
type Hasher struct{ h *password.Hasher }

var _ ports.PasswordHasher = Hasher{}

// New returns the port over h.
func New(h *password.Hasher) Hasher { return Hasher{h: h} }

// Hash implements ports.PasswordHasher.
func (a Hasher) Hash(pw string) (string, error) {
	s, err := a.h.Hash(pw)
	return s, busy(err)
}

// Verify implements ports.PasswordHasher.
func (a Hasher) Verify(pw, encoded string) (match, rehash bool, err error) {
	match, rehash, err = a.h.Verify(pw, encoded)
	return match, rehash, busy(err)
}

// busy marks a shed hash with the port's error, keeping the platform's for the HTTP answer.
func busy(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return fmt.Errorf("%w: %w", ports.ErrHasherBusy, err)
	}
	return err
}
