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
	"sync/atomic"

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

// Module provides the argon2id Hasher with DefaultParams, bounded by the configured memory
// budget; tests fx.Decorate the Params to cheaper ones.
var Module = fx.Module("password", fx.Provide(DefaultParams, NewFromConfig))

// Hasher hashes and verifies passwords with argon2id.
type Hasher struct {
	p Params
	// slots bounds concurrent hashes: argon2 is CPU-bound, so more at once than CPUs only
	// multiplies memory (Params.Memory each: 32 concurrent logins would hold 600 MiB), and the
	// memory budget may allow fewer still.
	slots chan struct{}
	// waiting counts the hashes queued for a slot; past queue more are shed with ErrBusy,
	// so a burst costs some clients a quick 503 instead of the process its memory.
	waiting atomic.Int64
	queue   int64
	// peak is the most hashes seen running at once, which the tests hold to the slots.
	running, peak atomic.Int64
}

// ErrBusy is returned by Hash and Verify when as many hashes as the budget allows are running
// and the queue behind them is full: the caller should answer 503 and ask the client to retry.
var ErrBusy = errors.New("password: too many password hashes at once; try again shortly")

// Limits bound the Hasher's concurrency.
type Limits struct {
	// MemoryBudget is how many bytes hashing may hold at once; 0 sets no bound but the CPUs.
	MemoryBudget int64
	// Queue is how many hashes may wait for a slot, per slot; 0 means DefaultQueuePerSlot.
	Queue int
}

// DefaultQueuePerSlot is how many hashes wait behind each running one before more are shed:
// a short queue absorbs a burst without letting a flood pile up memory and latency.
const DefaultQueuePerSlot = 4

// New returns a Hasher that hashes with p, as many at once as the CPUs and the limits allow.
func New(p Params, l Limits) *Hasher {
	slots := runtime.GOMAXPROCS(0)
	if l.MemoryBudget > 0 {
		perHash := int64(p.Memory) * 1024
		slots = min(slots, max(1, int(l.MemoryBudget/perHash)))
	}
	perSlot := l.Queue
	if perSlot <= 0 {
		perSlot = DefaultQueuePerSlot
	}
	return &Hasher{p: p, slots: make(chan struct{}, slots), queue: int64(slots * perSlot)}
}

// Slots returns how many hashes the Hasher runs at once.
func (h *Hasher) Slots() int { return cap(h.slots) }

func (h *Hasher) key(password string, salt []byte, p Params, keyLen uint32) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	default:
		if h.waiting.Add(1) > h.queue {
			h.waiting.Add(-1)
			return nil, ErrBusy
		}
		h.slots <- struct{}{}
		h.waiting.Add(-1)
	}
	defer func() { <-h.slots }()
	n := h.running.Add(1)
	for p := h.peak.Load(); n > p; p = h.peak.Load() {
		if h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer h.running.Add(-1)
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, keyLen), nil
}

// ErrMalformed is returned by Verify for a stored hash it cannot parse.
var ErrMalformed = errors.New("password: malformed argon2id hash")

// Hash returns the PHC-encoded argon2id hash of password with a random salt.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.key(password, salt, h.p, h.p.KeyLen)
	if err != nil {
		return "", err
	}
	return encode(h.p, salt, key), nil
}

// Verify reports whether password matches encoded (comparing in constant time) and whether
// encoded used parameters other than h's.
func (h *Hasher) Verify(password, encoded string) (match, rehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.key(password, salt, p, uint32(len(key)))
	if err != nil {
		return false, false, err
	}
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
