package token_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/acme/userservice/platform/token"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := token.New(key, 15*time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	id, session := uuid.New(), uuid.New()
	tok, ttl, err := s.Issue(id, "user", session)
	if err != nil || ttl != 15*time.Minute {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	for _, claim := range []string{"iss", "sub", "exp", "iat", "jti", "role", "sid"} {
		if _, ok := c[claim]; !ok {
			t.Errorf("claim %s missing", claim)
		}
	}
	if got, err := s.Verify(tok); err != nil || got != (token.Verified{Subject: id, Session: session}) {
		t.Fatalf("Verify = %v, %v", got, err)
	}
	now = now.Add(15*time.Minute + time.Second)
	if _, err := s.Verify(tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("expired: %v", err)
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	s, _ := token.New(key, time.Minute, time.Now)
	other, _ := token.New([]byte(strings.Repeat("k", 32)), time.Minute, time.Now)
	good, _, _ := s.Issue(uuid.New(), "user", uuid.New())
	foreign, _, _ := other.Issue(uuid.New(), "admin", uuid.New())
	sign := func(method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := jwt.MapClaims{"iss": token.Issuer, "sub": uuid.NewString(), "sid": uuid.NewString(), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	without := func(name string) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range valid {
			if k != name {
				c[k] = v
			}
		}
		return c
	}
	// The signature's first character changes: its last one also carries two padding bits that
	// a decoder may ignore, so changing it can leave the signature's bytes as they were.
	sig := strings.LastIndex(good, ".") + 1
	tampered := good[:sig] + map[bool]string{true: "A", false: "B"}[good[sig] != 'A'] + good[sig+1:]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(good, ".")[1] + "."
	tests := map[string]string{
		"another key":          foreign,
		"alg none":             none,
		"HS512":                sign(jwt.SigningMethodHS512, key, valid),
		"wrong issuer":         sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": "evil", "sub": valid["sub"], "sid": valid["sid"], "iat": valid["iat"], "exp": valid["exp"]}),
		"no expiry":            sign(jwt.SigningMethodHS256, key, without("exp")),
		"no session":           sign(jwt.SigningMethodHS256, key, without("sid")),
		"subject not a uuid":   sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": token.Issuer, "sub": "root", "sid": valid["sid"], "iat": valid["iat"], "exp": valid["exp"]}),
		"issued in the future": sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": token.Issuer, "sub": valid["sub"], "sid": valid["sid"], "iat": time.Now().Add(time.Hour).Unix(), "exp": valid["exp"]}),
		"truncated":            good[:len(good)-5],
		"tampered signature":   tampered,
		"empty":                "",
	}
	// With the good token verified (and remembered), its near copies must still fail.
	if _, err := s.Verify(good); err != nil {
		t.Fatal(err)
	}
	for name, tok := range tests {
		if _, err := s.Verify(tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if _, err := token.New([]byte("short"), time.Minute, time.Now); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestOpaqueTokens(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, digest := token.Opaque{}.New()
		if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("token %q is not 32 bytes of unpadded base64url", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q twice", tok)
		}
		seen[tok] = true
		if string(token.Opaque{}.Digest(tok)) != string(digest) || string(token.Opaque{}.Digest(tok+"x")) == string(digest) {
			t.Fatal("the digest does not identify the token")
		}
	}
}
