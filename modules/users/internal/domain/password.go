package domain

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

// commonPasswordsFile lists passwords that attackers try first: those of zxcvbn's list (from
// a corpus of ten million leaked passwords) that the length rules let through, lower-cased,
// most common first. Its header says where it comes from, and docs/decisions/0015 why it is
// this list.
//
//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of commonPasswordsFile, built on first use: a process that never
// sets a password never pays for it. It is never changed after.
var commonPasswords = sync.OnceValue(buildCommonPasswords)

// buildCommonPasswords reads the set of commonPasswordsFile.
func buildCommonPasswords() map[string]struct{} {
	set := make(map[string]struct{}, 16_000)
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue // the header; no listed password starts with # (TestCommonPasswordsList)
		}
		set[line] = struct{}{}
	}
	return set
}

// IsCommonPassword reports whether s is on the list of common passwords, compared without
// regard to case or to white space around it: an attacker's list tries "Password1" and
// "password1 " right after "password1".
func IsCommonPassword(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < PasswordMinLen || len(s) > 4*PasswordMaxLen {
		return false // the list has none so short, and a long string is not worth lower-casing
	}
	_, ok := commonPasswords()[strings.ToLower(s)]
	return ok
}

// onlyWhitespace reports whether s has no character but white space.
func onlyWhitespace(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) }) < 0
}
