package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxVerified bounds the verified-token cache: at about 100 bytes an entry, 1 MiB at most.
const maxVerified = 10_000

// verifiedCache remembers the tokens a Signer has verified, so a client's every request does
// not decode and check the same token again: base64, JSON and the claims checks were a tenth
// of the CPU of an authenticated request. Only success is remembered, and only until the
// token's expiry; anything else goes through the full verification. Keys are SHA-256 digests
// of the whole token, so only a byte-identical token hits and no comparison runs on
// attacker-chosen bytes. Proxies verifying JWTs do the same (Envoy's jwt_authn cache).
type verifiedCache struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what a verified token said.
type verifiedToken struct {
	claims  Verified
	expires time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{m: make(map[[sha256.Size]byte]verifiedToken)}
}

// get returns what a verified token that has not expired at now says.
func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time) (Verified, bool) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(v.expires) {
		return Verified{}, false
	}
	return v.claims, true
}

// put remembers a verified token. A full cache first drops expired entries, and empties
// itself if that is not enough: memory stays bounded and the cost is one more verification
// per live token.
func (c *verifiedCache) put(key [sha256.Size]byte, v verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerified {
		for k, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerified {
			clear(c.m)
		}
	}
	c.m[key] = v
}

// len is the number of remembered tokens.
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
