// Package password hashes passwords with argon2id and encodes them in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so a stored hash carries its own parameters and can
// be upgraded on the next login when the parameters are raised.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"go.uber.org/fx"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Iterations over the memory.
	Iterations uint32
	// Parallelism is the number of lanes.
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultParams are OWASP's recommended minimum for argon2id (19 MiB, 2 iterations, 1 lane).
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Module provides the argon2id Hasher with DefaultParams; tests fx.Decorate the Params to
// cheaper ones.
var Module = fx.Module("password", fx.Provide(DefaultParams, New))

// Hasher hashes and verifies passwords with argon2id.
type Hasher struct {
	p Params
	// slots bounds concurrent hashes to the CPUs: argon2 is CPU-bound, so more at once only
	// multiplies memory (Params.Memory each: 32 concurrent logins would hold 600 MiB).
	slots chan struct{}
}

// New returns a Hasher that hashes with p.
func New(p Params) *Hasher {
	return &Hasher{p: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

func (h *Hasher) key(password string, salt []byte, p Params, keyLen uint32) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, keyLen)
}

// ErrMalformed is returned by Verify for a stored hash it cannot parse.
var ErrMalformed = errors.New("password: malformed argon2id hash")

// Hash returns the PHC-encoded argon2id hash of password with a random salt.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	return encode(h.p, salt, h.key(password, salt, h.p, h.p.KeyLen)), nil
}

// Verify reports whether password matches encoded (comparing in constant time) and whether
// encoded used parameters other than h's.
func (h *Hasher) Verify(password, encoded string) (match, rehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := h.key(password, salt, p, uint32(len(key)))
	match = subtle.ConstantTimeCompare(got, key) == 1
	rehash = p.Memory != h.p.Memory || p.Iterations != h.p.Iterations || p.Parallelism != h.p.Parallelism ||
		uint32(len(salt)) != h.p.SaltLen || uint32(len(key)) != h.p.KeyLen
	return match, rehash, nil
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 || p.Memory == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return Params{}, nil, nil, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
