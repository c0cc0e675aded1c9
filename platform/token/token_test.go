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
	id := uuid.New()
	tok, ttl, err := s.Issue(id, "user")
	if err != nil || ttl != 15*time.Minute {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	for _, claim := range []string{"iss", "sub", "exp", "iat", "jti", "role"} {
		if _, ok := c[claim]; !ok {
			t.Errorf("claim %s missing", claim)
		}
	}
	if got, err := s.Subject(tok); err != nil || got != id {
		t.Fatalf("Subject = %v, %v", got, err)
	}
	now = now.Add(15*time.Minute + time.Second)
	if _, err := s.Subject(tok); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("expired: %v", err)
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	s, _ := token.New(key, time.Minute, time.Now)
	other, _ := token.New([]byte(strings.Repeat("k", 32)), time.Minute, time.Now)
	good, _, _ := s.Issue(uuid.New(), "user")
	foreign, _, _ := other.Issue(uuid.New(), "admin")
	sign := func(method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := jwt.MapClaims{"iss": token.Issuer, "sub": uuid.NewString(), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
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
		"wrong issuer":         sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": "evil", "sub": valid["sub"], "iat": valid["iat"], "exp": valid["exp"]}),
		"no expiry":            sign(jwt.SigningMethodHS256, key, without("exp")),
		"subject not a uuid":   sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": token.Issuer, "sub": "root", "iat": valid["iat"], "exp": valid["exp"]}),
		"issued in the future": sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": token.Issuer, "sub": valid["sub"], "iat": time.Now().Add(time.Hour).Unix(), "exp": valid["exp"]}),
		"truncated":            good[:len(good)-5],
		"tampered signature":   tampered,
		"empty":                "",
	}
	// With the good token verified (and remembered), its near copies must still fail.
	if _, err := s.Subject(good); err != nil {
		t.Fatal(err)
	}
	for name, tok := range tests {
		if _, err := s.Subject(tok); !errors.Is(err, token.ErrInvalid) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if _, err := token.New([]byte("short"), time.Minute, time.Now); err == nil {
		t.Error("a short key was accepted")
	}
}
