package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCommonPasswordsList: the embedded list is whole (the most common first, the last of the
// file last), holds only what the length rules let through, lower-cased and trimmed as the
// check compares, and nothing of it is mistaken for its header.
func TestCommonPasswordsList(t *testing.T) {
	t.Parallel()
	set := commonPasswords()
	if n := len(set); n < 15_000 {
		t.Fatalf("%d common passwords", n)
	}
	for _, p := range []string{"password", "12345678", "baseball", "iloveyou", "trustno1", "dimazarya"} {
		if _, ok := set[p]; !ok {
			t.Errorf("%q is not on the list", p)
		}
	}
	header := true
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimSuffix(line, "\n")
		if header && strings.HasPrefix(line, "#") {
			continue
		}
		header = false
		if n := utf8.RuneCountInString(line); n < PasswordMinLen || n > PasswordMaxLen ||
			line != strings.ToLower(strings.TrimSpace(line)) || strings.HasPrefix(line, "#") {
			t.Errorf("listed: %q", line)
		}
	}
}

// BenchmarkValidatePassword: what the list costs a password check, against the baseline of
// the length rules alone, measured in the same run.
func BenchmarkValidatePassword(b *testing.B) {
	const pw = "Correct Horse Battery Staple"
	commonPasswords() // built once per process, not per check
	b.Run("baseline: length only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := utf8.RuneCountInString(pw); n < PasswordMinLen || n > PasswordMaxLen {
				b.Fatal(n)
			}
		}
	})
	b.Run("ValidatePassword", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if msg := ValidatePassword(pw); msg != "" {
				b.Fatal(msg)
			}
		}
	})
	b.Run("build the set, once per process", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(buildCommonPasswords()) == 0 {
				b.Fatal("empty")
			}
		}
	})
}
