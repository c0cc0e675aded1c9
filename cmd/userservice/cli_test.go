package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/database/mongotest"
)

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr error
		out     string // expected in stdout
		errOut  string // expected in stderr
	}{
		{[]string{"version"}, nil, "", ""},
		{[]string{"--help"}, nil, "userservice migrate up|down|status", ""},
		{[]string{"--help"}, nil, "REQUEST_TIMEOUT, HTTP_READ_HEADER_TIMEOUT", ""},
		{[]string{"--help"}, nil, "DEBUG_ADDR", ""},
		{[]string{"--help"}, nil, "OTEL_*", ""},
		// Help that was asked for goes to standard output, like the command's own.
		{[]string{"serve", "--help"}, flag.ErrHelp, "SHUTDOWN_TIMEOUT", ""},
		{[]string{"migrate", "--help"}, flag.ErrHelp, "roll back the latest migration", ""},
		{[]string{"version", "--help"}, flag.ErrHelp, "Prints the version", ""},
		{[]string{"admin", "--help"}, flag.ErrHelp, "--password-stdin", ""},
		{[]string{"admin", "create", "--help"}, flag.ErrHelp, "--password-stdin", ""},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		err := run(tc.args, &stdout, &stderr)
		if !errors.Is(err, tc.wantErr) || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.errOut) {
			t.Errorf("%v: err=%v\nstdout=%s\nstderr=%s", tc.args, err, stdout.String(), stderr.String())
		}
	}
	// Help after a mistake goes to standard error, with the error.
	for _, args := range [][]string{{"migrate"}, {"migrate", "--bogus"}, {"admin"}, {"admin", "create", "--username", "x"}} {
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err == nil || errors.Is(err, flag.ErrHelp) || stdout.Len() != 0 || !strings.Contains(stderr.String(), "userservice "+args[0]) {
			t.Errorf("%v: err=%v\nstdout=%s\nstderr=%s", args, err, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"version"}, &stdout, &stderr); err != nil || strings.TrimSpace(stdout.String()) == "" {
		t.Errorf("version printed %q, %v", stdout.String(), err)
	}
	if err := run([]string{"frobnicate"}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: %v", err)
	}
}

// buildBinary builds the command once per test that needs the real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "userservice")
	// With the commit stamped in, as a build inside the repository has it (some machines set
	// GOFLAGS=-buildvcs=false).
	out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func command(bin string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)

	t.Run("version names the commit", func(t *testing.T) {
		t.Parallel()
		rev, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
		if err != nil {
			t.Skipf("SKIPPED: not a git checkout (%v)", err)
		}
		out, err := command(bin, nil, "version").Output()
		if err != nil || !strings.Contains(string(out), strings.TrimSpace(string(rev))) {
			t.Fatalf("version %q (%v) does not name the commit %s", out, err, rev)
		}
	})

	t.Run("bad config stops start-up with one line", func(t *testing.T) {
		t.Parallel()
		var stderr bytes.Buffer
		cmd := command(bin, map[string]string{"SHUTDOWN_TIMEOUT": "soon"})
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v", err)
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "SHUTDOWN_TIMEOUT") {
			t.Fatalf("stderr %q", msg)
		}
	})

	t.Run("start-up failures of the database are one line", func(t *testing.T) {
		t.Parallel()
		secret := strings.Repeat("s", 32)
		tests := []struct {
			name string
			env  map[string]string
			want string
		}{
			{"server down", map[string]string{
				"DATABASE_URL": "postgres://someone:hunter2@" + freeAddr(t) + "/db", "DB_CONNECT_TIMEOUT": "0s", "MIGRATE_ON_START": "false",
			}, "database: connect postgres://someone:xxxxx@127.0.0.1:"},
			{"server down, after waiting", map[string]string{
				"DATABASE_URL": "postgres://someone:hunter2@" + freeAddr(t) + "/db", "DB_CONNECT_TIMEOUT": "300ms",
			}, "/db: connection refused"},
			{"no schema of the search_path", map[string]string{
				"DATABASE_URL": withSearchPath(t, dbtest.URL(t, database.Postgres), "no_such_schema"),
			}, "no schema of the search_path (no_such_schema) exists"},
		}
		for _, tc := range tests {
			tc.env["JWT_SECRET"] = secret
			var stderr bytes.Buffer
			cmd := command(bin, tc.env)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("%s: exit %v", tc.name, err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "userservice: database: connect ") || !strings.Contains(last, tc.want) || strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("%s: stderr %q", tc.name, stderr.String())
			}
			// The error once, in one line; only a wait adds a line before it (a log entry).
			if want := map[bool]int{true: 2, false: 1}[tc.env["DB_CONNECT_TIMEOUT"] == "300ms"]; len(lines) != want {
				t.Errorf("%s: %d lines on stderr, want %d: %q", tc.name, len(lines), want, stderr.String())
			}
		}
	})

	t.Run("on MongoDB, every module: migrate, admin, serve", func(t *testing.T) {
		t.Parallel()
		_, url := mongotest.Database(t)
		env := map[string]string{"DATABASE_URL": url, "JWT_SECRET": strings.Repeat("s", 32), "HTTP_ADDR": freeAddr(t)}
		if out, err := command(bin, env, "migrate", "up").CombinedOutput(); err != nil || !strings.Contains(string(out), "migrations applied") {
			t.Fatalf("migrate up: %v\n%s", err, out)
		}
		if out, err := command(bin, env, "migrate", "down").CombinedOutput(); err == nil || !strings.Contains(string(out), "MongoDB has no schema migrations") {
			t.Fatalf("migrate down: %v\n%s", err, out)
		}
		cmd := command(bin, env, "admin", "create", "--username", "root", "--email", "root@example.com", "--password-stdin")
		cmd.Stdin = strings.NewReader("root password\n")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "created admin root") {
			t.Fatalf("admin create: %v\n%s", err, out)
		}
		startServe(t, bin, env)
		resp, err := http.Post("http://"+env["HTTP_ADDR"]+"/users", "application/json", strings.NewReader(`{"username":"on_mongo","email":"on.mongo@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register on MongoDB: %d", resp.StatusCode)
		}
	})

	t.Run("migrate and admin on PostgreSQL need no JWT_SECRET", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"DATABASE_URL": dbtest.URL(t, database.Postgres), "JWT_SECRET": ""}
		if out, err := command(bin, env, "migrate", "status").CombinedOutput(); err != nil || !strings.Contains(string(out), "pending") {
			t.Fatalf("migrate status: %v\n%s", err, out)
		}
		cmd := command(bin, env, "admin", "create", "--username", "root", "--email", "root@example.com", "--password-stdin")
		cmd.Stdin = strings.NewReader("root password\n")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "created admin root") {
			t.Fatalf("admin create: %v\n%s", err, out)
		}
		out, err := command(bin, env).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "JWT_SECRET: required to serve") {
			t.Fatalf("serve without JWT_SECRET: %v\n%s", err, out)
		}
	})

	t.Run("migrate", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "m.db")}
		steps := []struct {
			args []string
			want string
		}{
			{[]string{"migrate", "status"}, "pending"},
			{[]string{"migrate", "up"}, "migrations applied"},
			{[]string{"migrate", "status"}, "applied"},
			{[]string{"migrate", "down"}, "rolled back"},
			{[]string{"migrate", "status"}, "pending"},
		}
		for _, st := range steps {
			out, err := command(bin, env, st.args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), st.want) {
				t.Fatalf("%v: %v\n%s", st.args, err, out)
			}
		}
		out, err := command(bin, env, "migrate", "sideways").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "sideways") {
			t.Fatalf("bad migrate command: %v\n%s", err, out)
		}
	})

	t.Run("admin create", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "a.db")}
		create := func(stdin string, args ...string) (string, error) {
			cmd := command(bin, env, append([]string{"admin", "create"}, args...)...)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		out, err := create("root password\n", "--username", "root", "--email", "root@example.com", "--password-stdin")
		if err != nil || !strings.HasPrefix(out, "created admin root (") {
			t.Fatalf("create: %v %q", err, out)
		}
		if strings.Contains(out, "root password") {
			t.Fatal("the password was echoed")
		}
		tests := []struct {
			name, stdin string
			args        []string
			want        string
		}{
			{"email taken", "another password\n", []string{"--username", "root2", "--email", "ROOT@example.com", "--password-stdin"}, "User with email ROOT@example.com already exists"},
			{"short password", "short\n", []string{"--username", "root3", "--email", "r3@example.com", "--password-stdin"}, "password must be at least 8 characters"},
			{"common password", "Password123\n", []string{"--username", "root5", "--email", "r5@example.com", "--password-stdin"}, "password is a commonly used password"},
			{"whitespace password", "          \n", []string{"--username", "root6", "--email", "r6@example.com", "--password-stdin"}, "password must not be only whitespace"},
			{"no password flag", "", []string{"--username", "root4", "--email", "r4@example.com"}, "--password-stdin"},
		}
		for _, tc := range tests {
			out, err := create(tc.stdin, tc.args...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("%s: %v %q", tc.name, err, out)
			}
			if tc.name != "no password flag" && strings.Count(out, "\n") != 0 {
				t.Errorf("%s: want one line, got %q", tc.name, out)
			}
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		if err := command(bin, map[string]string{"HTTP_ADDR": addr}, "healthcheck").Run(); err == nil {
			t.Fatal("healthcheck passed with nothing listening")
		}
		startServe(t, bin, map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "h.db"), "HTTP_ADDR": addr})
		for _, path := range []string{"/readyz", "/livez"} {
			if out, err := command(bin, map[string]string{"HTTP_ADDR": addr}, "healthcheck", "--path", path).CombinedOutput(); err != nil {
				t.Fatalf("healthcheck %s: %v %s", path, err, out)
			}
		}
		if out, err := command(bin, map[string]string{"HTTP_ADDR": addr}, "healthcheck", "--path", "/nope").CombinedOutput(); err == nil || !strings.Contains(string(out), "answered 404") {
			t.Fatalf("healthcheck of a 404: %v %s", err, out)
		}
	})

	t.Run("SIGTERM drains in-flight requests and exits 0", func(t *testing.T) {
		t.Parallel()
		testGracefulShutdown(t, bin)
	})
}

// testGracefulShutdown starts a request, sends SIGTERM while its body is still arriving, and
// checks that new connections are refused, the request still gets its 201, the process exits
// 0, and the user is stored.
func testGracefulShutdown(t *testing.T, bin string) {
	dbPath := filepath.Join(t.TempDir(), "s.db")
	addr := freeAddr(t)
	cmd, stderr := startServe(t, bin, map[string]string{"DATABASE_URL": "sqlite://" + dbPath, "HTTP_ADDR": addr, "SHUTDOWN_TIMEOUT": "10s", "LOG_LEVEL": "info"})

	body := `{"username":"in_flight","email":"inflight@example.com"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /users HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:half])
	time.Sleep(200 * time.Millisecond) // the server is now reading the body

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 5*time.Second, "new connections to be refused after SIGTERM", func() error {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return nil //nolint:nilerr // a refused connection is what is awaited
		}
		_ = c.Close()
		return errors.New("a new connection was accepted")
	})

	fmt.Fprint(conn, body[half:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: %d", resp.StatusCode)
	}

	waitExit0(t, cmd, stderr, 15*time.Second)
	if !strings.Contains(stderr.String(), `"msg":"drained: every in-flight request finished"`) {
		t.Errorf("no log line says the drain completed:\n%s", stderr.String())
	}

	db, err := database.Open(context.Background(), database.Options{URL: "sqlite://" + dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var n int
	if err := db.SQL.QueryRow("SELECT count(*) FROM users WHERE username = 'in_flight'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the 201 user is not stored: n=%d err=%v", n, err)
	}
}

// withSearchPath returns dbURL with its search_path replaced.
func withSearchPath(t *testing.T, dbURL, path string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", path)
	u.RawQuery = q.Encode()
	return u.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// startServe starts bin with env and no arguments (serve), killed at the end of the test, and
// waits until it is ready; its stderr is collected for failure messages.
func startServe(t *testing.T, bin string, env map[string]string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := command(bin, env)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitReady(t, "http://"+env["HTTP_ADDR"], stderr)
	return cmd, stderr
}

// waitReady waits until the instance at base answers GET /readyz with 200, and fails the
// test after 20 s. Its stderr is not read while the process may still write it (a data race
// on the buffer); the failure names the instance.
func waitReady(t *testing.T, base string, _ *bytes.Buffer) {
	t.Helper()
	wait.Until(t, 20*time.Second, base+" to be ready", func() bool { return ready(base) })
}

// ready reports whether the instance at base answers GET /readyz with 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitExit0 waits up to limit for cmd to exit and fails unless it exits 0.
func waitExit0(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(limit):
		t.Fatalf("the process did not exit within %s of SIGTERM", limit)
	}
}
