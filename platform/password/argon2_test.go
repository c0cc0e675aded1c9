package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/acme/userservice/platform/password"
)

func cheap() password.Params {
	return password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h := password.New(cheap(), password.Limits{})
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "correct horse") {
		t.Fatalf("encoding %q", enc)
	}
	again, _ := h.Hash("correct horse battery staple")
	if again == enc {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
	tests := []struct {
		pw    string
		match bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"", false},
		{"CORRECT HORSE BATTERY STAPLE", false},
	}
	for _, tc := range tests {
		match, rehash, err := h.Verify(tc.pw, enc)
		if err != nil || match != tc.match || rehash {
			t.Errorf("Verify(%q) = %v %v %v", tc.pw, match, rehash, err)
		}
	}
}

func TestRehashWhenParametersChange(t *testing.T) {
	t.Parallel()
	old, _ := password.New(cheap(), password.Limits{}).Hash("s3cret-password")
	stronger := cheap()
	stronger.Iterations = 2
	match, rehash, err := password.New(stronger, password.Limits{}).Verify("s3cret-password", old)
	if err != nil || !match || !rehash {
		t.Fatalf("old hash under new params: match=%v rehash=%v err=%v", match, rehash, err)
	}
}

func TestDefaultsMeetOWASPMinimum(t *testing.T) {
	t.Parallel()
	p := password.DefaultParams()
	if p.Memory < 19*1024 || p.Iterations < 2 || p.Parallelism < 1 || p.SaltLen < 16 {
		t.Fatalf("%+v is below OWASP's argon2id minimum (m=19 MiB, t=2, p=1)", p)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	h := password.New(cheap(), password.Limits{})
	for _, enc := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=x,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5"} {
		if _, _, err := h.Verify("pw", enc); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("Verify(%q): %v", enc, err)
		}
	}
}
