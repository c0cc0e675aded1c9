package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// opaqueBytes is the entropy of an opaque token: 256 bits, twice the least that RFC 9700 and
// OWASP ask of a refresh or single-use token.
const opaqueBytes = 32

// Opaque makes and digests opaque tokens; it is stateless, and its zero value is ready. Use
// cases receive it through a port of their module.
type Opaque struct{}

// New returns a new opaque token (refresh, email verification, password reset): random
// bytes in unpadded base64url, which survives URLs and JSON unescaped, and its digest, the
// only form in which it may be stored. The token itself goes to its holder and nowhere else.
func (o Opaque) New() (tok string, digest []byte) {
	b := make([]byte, opaqueBytes)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	tok = base64.RawURLEncoding.EncodeToString(b)
	return tok, o.Digest(tok)
}

// Digest returns the SHA-256 of an opaque token: what storage keeps and looks it up by. A
// plain hash is enough, unlike for passwords: the token's 256 random bits leave nothing to
// guess, so no salt or slow hash is needed, and equality on the digest is a lookup that
// leaks nothing about the token through its timing.
func (Opaque) Digest(tok string) []byte {
	d := sha256.Sum256([]byte(tok))
	return d[:]
}
