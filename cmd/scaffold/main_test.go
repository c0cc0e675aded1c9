package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/userservice/platform/apptest/wait"
)

// repoRoot is the repository this test runs in.
const repoRoot = "../.."

// miniRepo copies what scaffold reads into a temporary directory, with a contract of the
// platform's operations only, so that the fast tests never write into the repository and do
// not depend on which modules it has.
func miniRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"go.mod", mainFile, "modules/users/module.go"} {
		if err := copyFile(filepath.Join(repoRoot, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	api := "paths:\n  /health:\n    get:\n      x-ogen-operation-group: System\n"
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(api), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyFile copies the file from to the path to, making its folders.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// tree lists the files under dir with their contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRefusesBadNames(t *testing.T) {
	t.Parallel()
	dir := miniRepo(t)
	before := tree(t, dir)
	tests := []struct{ name, want string }{
		{"", "invalid module name"},
		{"n", "invalid module name"},
		{"Notes", "invalid module name"},
		{"1notes", "invalid module name"},
		{"my-notes", "invalid module name"},
		{"my_notes", "invalid module name"},
		{"func", "it is a Go keyword"},
		{"users", "module users already exists (modules/users)"},
		{"uuid", "the module's own code imports a package of that name"},
		{"fx", "the module's own code imports a package of that name"},
		{"system", "already has the operation group System"},
		{"health", "already has the path /health"},
	}
	for _, tc := range tests {
		err := scaffold(dir, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("scaffold %q: got %v, want one line saying %q", tc.name, err, tc.want)
		}
	}
	if after := tree(t, dir); len(after) != len(before) || after[mainFile] != before[mainFile] {
		t.Errorf("a refused name changed the repository: %d files before, %d after", len(before), len(after))
	}
}

func TestScaffoldWritesTheModuleAndItsLine(t *testing.T) {
	t.Parallel()
	dir := miniRepo(t)
	before := tree(t, dir)
	if err := scaffold(dir, "notes"); err != nil {
		t.Fatal(err)
	}
	after := tree(t, dir)
	for _, want := range []string{
		"modules/notes/module.go", "modules/notes/api.yaml", "modules/notes/internal/domain/item.go",
		"modules/notes/internal/ports/ports.go", "modules/notes/internal/service/service.go", "modules/notes/internal/httpapi/handler.go",
		"modules/notes/internal/adapters/postgres/postgres.go", "modules/notes/internal/adapters/sqlite/sqlite.go",
		"modules/notes/e2e_test.go", "queries/notes/sqlc.yaml", "queries/notes/migrations.go",
		"queries/notes/postgres/migrations/00001_create_notes_items.sql", "queries/notes/sqlite/queries.sql",
	} {
		if _, ok := after[want]; !ok {
			t.Errorf("no %s", want)
		}
	}
	for name, content := range after {
		if _, existed := before[name]; existed && name != mainFile && content != before[name] {
			t.Errorf("%s changed", name)
		}
		if !strings.HasPrefix(name, "modules/notes/") && !strings.HasPrefix(name, "queries/notes/") && before[name] == "" {
			t.Errorf("%s written outside the module's places", name)
		}
		if strings.Contains(strings.ToLower(name+content), "skeleton") {
			t.Errorf("%s still says skeleton", name)
		}
	}
	// main.go gains exactly one line, in features().
	const line = "\t\tmodules.Notes(),\n"
	oldMain, newMain := before[mainFile], after[mainFile]
	if strings.Count(newMain, "\n") != strings.Count(oldMain, "\n")+1 || strings.Count(newMain, line) != strings.Count(oldMain, line)+1 {
		t.Errorf("main.go did not gain exactly the line %q:\n%s", line, newMain)
	}
	_, features, ok := strings.Cut(newMain, "func features()")
	if !ok {
		t.Fatalf("main.go has no features():\n%s", newMain)
	}
	if body, _, _ := strings.Cut(features, "\n}\n"); !strings.Contains(body, line) {
		t.Errorf("the line is not in features():\n%s", newMain)
	}
	if err := scaffold(dir, "notes"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("scaffold twice: %v", err)
	}
}

// TestScaffoldedModuleWorks is the promise of the scaffolder, kept on a copy of this
// repository: make module, then make generate; only the module's places and one line of
// main.go are new hand-written code; the module builds, passes its tests on every engine and
// the architecture rules, and the binary with it serves on MongoDB; make check-generated notices a stale generated file of the new
// module; and without its line in features() the service builds and answers its routes 404.
func TestScaffoldedModuleWorks(t *testing.T) {
	if os.Getenv("SLOW_TESTS") == "" {
		t.Skip("slow (scaffolds, generates, builds and tests a module): set SLOW_TESTS=1, as make test-all and CI do")
	}
	t.Parallel()
	dir := copyRepo(t)
	name := freeName(t, dir)
	run(t, dir, "make", "module", "NAME="+name)
	status := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all")
	for _, line := range strings.Split(strings.TrimSpace(status), "\n") {
		file := strings.TrimSpace(line[2:])
		if file != mainFile && !strings.HasPrefix(file, "modules/"+name+"/") && !strings.HasPrefix(file, "queries/"+name+"/") {
			t.Errorf("make module touched %s", file)
		}
	}
	run(t, dir, "make", "generate")
	run(t, dir, "go", "vet", "./...")
	run(t, dir, "go", "test", "-count=1", "./modules/"+name+"/...", ".")
	run(t, dir, "go", "test", "-count=1", "-run", "TestCompositionsValidate", "./cmd/userservice")
	// The binary with every module, the new one too, migrates, creates an admin and serves on
	// MongoDB, as make test checks it.
	run(t, dir, "go", "test", "-count=1", "-run", "TestBinary/on_MongoDB", "./cmd/userservice")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-qm", name)
	run(t, dir, "make", "check-generated")

	// A query added by hand without make generate leaves pgstore stale: check-generated fails.
	queries := filepath.Join(dir, "queries", name, "postgres/queries.sql")
	appendFile(t, queries, "\n-- name: CountItems :one\nSELECT count(*) FROM "+name+"_items;\n")
	if out, err := command(dir, "make", "check-generated").CombinedOutput(); err == nil || !strings.Contains(string(out), "modules/"+name+"/internal/adapters/postgres/pgstore") {
		t.Errorf("check-generated passed with a stale pgstore: %v\n%s", err, out)
	}
	run(t, dir, "git", "checkout", "--", ".")

	// Without the module's line the service builds and serves; the module's routes are 404.
	main := filepath.Join(dir, mainFile)
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, bytes.Replace(src, []byte("\t\tmodules."+strings.ToUpper(name[:1])+name[1:]+"(),\n"), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "userservice")
	run(t, dir, "go", "build", "-o", bin, "./cmd/userservice")
	base := serve(t, bin)
	resp, err := http.Get(base + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var prob struct{ Status int }
	_ = json.NewDecoder(resp.Body).Decode(&prob)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" || prob.Status != 404 {
		t.Errorf("GET /%s without the module: %d %s %+v", name, resp.StatusCode, resp.Header.Get("Content-Type"), prob)
	}
}

// freeName returns a module name the repository at dir does not have yet: notes, notes2, …
func freeName(t *testing.T, dir string) string {
	t.Helper()
	for i := 1; ; i++ {
		name := "notes"
		if i > 1 {
			name += strconv.Itoa(i)
		}
		if _, err := os.Stat(filepath.Join(dir, "modules", name)); os.IsNotExist(err) {
			return name
		}
	}
}

// copyRepo copies the repository's files (tracked and new, not ignored) into a temporary git
// repository with one commit.
func copyRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := run(t, repoRoot, "git", "ls-files", "-co", "--exclude-standard")
	for _, f := range strings.Split(strings.TrimSpace(files), "\n") {
		err := copyFile(filepath.Join(repoRoot, f), filepath.Join(dir, f))
		if err != nil && !os.IsNotExist(err) { // a file deleted in the work tree is not copied
			t.Fatal(err)
		}
	}
	run(t, dir, "git", "init", "-q")
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "copy")
	return dir
}

func command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	return cmd
}

// run runs a command in dir and returns its output; a failure fails the test.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out, err := command(dir, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func appendFile(t *testing.T, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// serve starts the binary on SQLite and a free port, and returns its base URL once it is live.
func serve(t *testing.T, bin string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(), "HTTP_ADDR="+addr, "DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "db.sqlite"), "LOG_LEVEL=error")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := "http://" + addr
	wait.For(t, 20*time.Second, "the service to start", func() error {
		resp, err := http.Get(base + "/livez")
		if err != nil {
			return fmt.Errorf("%w; its stderr: %s", err, stderr.String())
		}
		_ = resp.Body.Close()
		return nil
	})
	return base
}
