package dbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Cluster is a throwaway PostgreSQL server of the test's own, from the local PostgreSQL
// binaries, on a free port: for tests that stop and start the database, which they must never
// do to the shared one.
type Cluster struct {
	bin, dir, port string
	asPostgres     bool
}

// StartCluster initialises and starts a cluster, stopped and removed when the test ends.
// Without PostgreSQL's binaries the test is skipped, or fails when CI=true.
func StartCluster(t *testing.T) *Cluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL's binaries (initdb, pg_ctl) are required in CI")
		}
		t.Skip("SKIPPED: no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
	}
	c := &Cluster{bin: filepath.Dir(bins[len(bins)-1]), port: strconv.Itoa(freePort(t))}
	// PostgreSQL refuses to run as root: then the cluster belongs to the postgres user, in a
	// directory it can reach (a test's TempDir sits in a root-only parent).
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	c.asPostgres = u.Uid == "0"
	dir, err := os.MkdirTemp("", "userservice-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if c.asPostgres {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	if out, err := c.command(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.Start(t)
	return c
}

// URL is the cluster's postgres database.
func (c *Cluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}

// Start starts the (stopped) cluster and waits until it accepts connections.
func (c *Cluster) Start(t *testing.T) {
	t.Helper()
	if err := c.pgctl("start", "-w", "-l", filepath.Join(c.dir, "log"),
		"-o", fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("start cluster: %v\n%s", err, log)
	}
}

// Stop stops the cluster the way a crash or an operator would: immediately, dropping every
// connection.
func (c *Cluster) Stop(t *testing.T) {
	t.Helper()
	if err := c.pgctl("stop", "-m", "immediate", "-w"); err != nil {
		t.Fatalf("stop cluster: %v", err)
	}
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.data()}, args...)
	out, err := c.command(filepath.Join(c.bin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	if c.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
