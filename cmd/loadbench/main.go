// Command loadbench is the project's reproducible load benchmark (make bench). It builds and
// starts the real service binary on a fresh PostgreSQL database and on SQLite, seeds users with
// COPY, drives each workload over loopback with a fixed number of connections (warm-up, then
// several rounds, median reported), and measures in the same run the database's own ceiling
// for the same statements from the same number of goroutines without HTTP. It prints a table
// and writes the results as JSON. With -scale it measures latency against table size instead.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// options are the benchmark's knobs.
type options struct {
	adminURL    string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	maxRequests int
	seed        int
	engines     []string
	jsonPath    string
	scale       []int
	workloads   []string
	// profileDir, when set, receives a CPU profile of the service per workload.
	profileDir string
	// redisURL, when set, is the Redis of a second, cached instance (the *-cached workloads).
	redisURL string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var engines, scale, workloads string
	def := os.Getenv("BENCH_DATABASE_URL")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	flag.StringVar(&o.adminURL, "db", def, "PostgreSQL to create a fresh benchmark database in (BENCH_DATABASE_URL)")
	flag.IntVar(&o.concurrency, "c", 32, "concurrent connections (and database goroutines for the ceiling)")
	flag.DurationVar(&o.duration, "d", 3*time.Second, "duration of a round")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before the rounds")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds per workload; the median is reported")
	flag.IntVar(&o.maxRequests, "n", 500_000, "most requests in a round")
	flag.IntVar(&o.seed, "seed", 10_000, "users seeded before the workloads")
	flag.StringVar(&engines, "engines", "postgres,sqlite", "engines to run on")
	flag.StringVar(&workloads, "workloads", "health,register,get,get-cached,list-first,list-deep,update,update-cached,deactivate,login", "workloads to run")
	redisDef := os.Getenv("BENCH_REDIS_URL")
	if redisDef == "" {
		redisDef = "redis://127.0.0.1:6379/0"
	}
	flag.StringVar(&o.redisURL, "redis", redisDef, "Redis of the cached instance (BENCH_REDIS_URL); empty: no *-cached workloads")
	flag.StringVar(&o.jsonPath, "json", "bin/bench.json", "where to write the results")
	flag.StringVar(&o.profileDir, "profile", "", "write a CPU profile of the service during each workload's first round here (go tool pprof)")
	flag.StringVar(&scale, "scale", "", "instead: latency at these table sizes, e.g. 1000,100000,1000000")
	flag.Parse()
	o.engines = strings.Split(engines, ",")
	o.workloads = strings.Split(workloads, ",")
	for _, s := range strings.Split(scale, ",") {
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-scale: %w", err)
		}
		o.scale = append(o.scale, n)
	}

	bin, minimal, err := build()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(filepath.Dir(bin)) }()
	if len(o.scale) > 0 {
		return runScale(o, bin)
	}
	var results []engineResult
	for _, e := range o.engines {
		r, err := runEngine(o, bin, minimal, e)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		results = append(results, r)
		printEngine(o, r)
	}
	return writeJSON(o.jsonPath, map[string]any{
		"time": time.Now().UTC(), "concurrency": o.concurrency, "round": o.duration.String(),
		"rounds": o.rounds, "seed_users": o.seed, "cpus": cpus(), "engines": results,
	})
}

// build builds the service and the hand-written baseline (cmd/loadbench/minimal) into a
// temporary directory.
func build() (svc, minimal string, err error) {
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return "", "", err
	}
	svc, minimal = filepath.Join(dir, "userservice"), filepath.Join(dir, "minimal")
	for bin, pkg := range map[string]string{svc: "./cmd/userservice", minimal: "./cmd/loadbench/minimal"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	return svc, minimal, nil
}
