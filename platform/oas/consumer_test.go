package oas_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAConsumerBuildsTheClientFromACheckout follows docs/api.md's steps for a program outside
// this repository that uses the Go client before the module path is published: require a
// version, replace it with a checkout, import, resolve. The module proxy it runs against is the
// local module cache, which has never held github.com/acme/userservice, as a proxy answering
// 403 has not: the steps must not need a proxy to know it.
func TestAConsumerBuildsTheClientFromACheckout(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := `package main

import (
	"fmt"

	"github.com/acme/userservice/platform/oas"
)

func main() {
	_, err := oas.NewClient("http://localhost:8080", oas.StaticToken(""))
	fmt.Println(err)
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOPROXY=file://"+filepath.Join(strings.TrimSpace(string(cache)), "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	for _, args := range [][]string{
		{"mod", "init", "example.com/consumer"},
		// The documented steps (docs/api.md, Calling it from Go).
		{"mod", "edit", "-require", "github.com/acme/userservice@v0.0.0", "-replace", "github.com/acme/userservice=" + root},
		// go mod tidy would also fetch the test-only dependencies of the client's
		// dependencies, which the local cache may lack; a build resolves what the program needs.
		{"build", "-o", filepath.Join(dir, "consumer"), "."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
