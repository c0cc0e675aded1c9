package token

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestVerifiedCacheIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(i int) [sha256.Size]byte {
		var k [sha256.Size]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		return k
	}
	tests := []struct {
		name    string
		expired int // how many of the first maxVerified entries have expired when one more comes
		want    int
	}{
		{"expired entries make room", maxVerified / 2, maxVerified/2 + 1},
		{"a full cache of live tokens starts afresh", 0, 1},
	}
	for _, tc := range tests {
		c := newVerifiedCache()
		for i := range maxVerified {
			exp := now.Add(time.Minute)
			if i < tc.expired {
				exp = now
			}
			c.put(key(i), verifiedToken{claims: Verified{Subject: uuid.New()}, expires: exp}, now.Add(-time.Second))
		}
		c.put(key(maxVerified), verifiedToken{claims: Verified{Subject: uuid.New()}, expires: now.Add(time.Minute)}, now)
		if c.len() != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.name, c.len(), tc.want)
		}
		if _, ok := c.get(key(maxVerified), now); !ok {
			t.Errorf("%s: the newest token is not remembered", tc.name)
		}
	}
}

func TestVerifiedCacheServesOnlyUnexpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newVerifiedCache()
	k := sha256.Sum256([]byte("a token"))
	id := Verified{Subject: uuid.New(), Session: uuid.New()}
	c.put(k, verifiedToken{claims: id, expires: now.Add(time.Minute)}, now)
	if got, ok := c.get(k, now.Add(59*time.Second)); !ok || got != id {
		t.Fatalf("before expiry: %v %v", got, ok)
	}
	if _, ok := c.get(k, now.Add(time.Minute)); ok {
		t.Fatal("served at its expiry")
	}
	if _, ok := c.get(sha256.Sum256([]byte("a token!")), now); ok {
		t.Fatal("served another token")
	}
}
