package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// service is a running service process.
type service struct {
	cmd  *exec.Cmd
	base string
	// debug is the base URL of the service's profiler, when it runs one.
	debug string
}

const jwtSecret = "loadbench-secret-loadbench-secret-0123456789"

func startService(bin, dbURL string, profile bool, env ...string) (*service, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin, "serve")
	// The production defaults (info logs, one line per request), written where a deployment
	// would: away from the terminal.
	// Every registration comes from this one address: without REGISTRATION_MAX_PER_ADDR=0 the
	// limit per client address would answer most of them 429.
	cmd.Env = append(append(os.Environ(), "DATABASE_URL="+dbURL, "HTTP_ADDR="+addr, "JWT_SECRET="+jwtSecret,
		"REGISTRATION_MAX_PER_ADDR=0"), env...)
	s := &service{cmd: cmd, base: "http://" + addr}
	if profile {
		debug, err := freeAddr()
		if err != nil {
			return nil, 0, err
		}
		cmd.Env = append(cmd.Env, "DEBUG_ADDR="+debug)
		s.debug = "http://" + debug
	}
	startup, err := s.start("/readyz")
	if err != nil {
		return nil, 0, err
	}
	return s, startup, nil
}

// startMinimal starts the hand-written baseline on the database.
func startMinimal(bin, dbURL string) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "HTTP_ADDR="+addr)
	s := &service{cmd: cmd, base: "http://" + addr}
	if _, err := s.start("/health"); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the process and waits until GET ready answers 200; it returns the time that took.
func (s *service) start(ready string) (time.Duration, error) {
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		return 0, err
	}
	for time.Since(start) < 30*time.Second {
		resp, err := http.Get(s.base + ready)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.stop()
	return 0, fmt.Errorf("%s did not become ready", filepath.Base(s.cmd.Path))
}

// freeAddr is a loopback address with a port nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profileCPU saves a CPU profile of the service over d to path; it blocks for d.
func (s *service) profileCPU(d time.Duration, path string) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.debug, max(1, int(d.Seconds()))))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// settle waits until the service has no background work left from what ran before: the
// outbox relayed and the mails sent (the backlog gauges of /metrics at 0). A workload or a
// ceiling measured while the previous workload's events and mails are still being worked off
// would share the machine with them. It returns how long that took.
func (s *service) settle(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		pending, err := s.backlog()
		if err != nil || pending == 0 {
			return time.Since(start), err
		}
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("%v events and mails still pending after %v", pending, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backlog sums the service's backlog gauges.
func (s *service) backlog() (float64, error) {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if ok && (name == "events_outbox_backlog" || name == "notifications_mail_backlog") {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			sum += v
		}
	}
	return sum, nil
}

func (s *service) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// conns returns one load-generating connection per worker to the service.
func (s *service) conns(n int) []*conn {
	cs := make([]*conn, n)
	for i := range cs {
		cs[i] = newConn(strings.TrimPrefix(s.base, "http://"))
	}
	return cs
}

// closeAll closes the connections.
func closeAll(cs []*conn) {
	for _, c := range cs {
		c.close()
	}
}
