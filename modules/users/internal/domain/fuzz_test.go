package domain_test

import (
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/acme/userservice/modules/users/internal/domain"
)

// The fuzz targets check the validators against the rules stated independently: what they
// accept must satisfy the rule, and they must never panic on any input.

var usernameChars = regexp.MustCompile(`^[A-Za-z0-9_]*$`)

func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"john_doe", "ab", "", "a b", "jöhn", "___", "0123456789012345678901234567890123456789012345678901"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msg := domain.ValidateUsername(s)
		valid := len(s) >= 3 && len(s) <= 50 && usernameChars.MatchString(s)
		if (msg == "") != valid {
			t.Fatalf("ValidateUsername(%q) = %q, rule says valid=%v", s, msg, valid)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"john@example.com", "a@b.c", "@", "a@b", "a@@b.c", "a b@c.d", "x@y.z\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidateEmail(s) != "" {
			return
		}
		// Accepted: at most 254 bytes, ASCII, exactly one @ with a dot somewhere after it.
		at := -1
		for i, r := range s {
			if r >= utf8.RuneSelf || r <= ' ' {
				t.Fatalf("accepted %q with a non-printable or non-ASCII rune", s)
			}
			if r == '@' {
				if at >= 0 {
					t.Fatalf("accepted %q with two @", s)
				}
				at = i
			}
		}
		if len(s) > 254 || at <= 0 || !regexp.MustCompile(`\.`).MatchString(s[at:]) {
			t.Fatalf("accepted %q", s)
		}
	})
}
