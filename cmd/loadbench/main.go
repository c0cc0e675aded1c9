// Command loadbench is the project's reproducible load benchmark (make bench). It builds and
// starts the real service binary on a fresh PostgreSQL database and on SQLite, seeds users with
// COPY, drives each workload over loopback with a fixed number of connections (warm-up, then
// several rounds, median reported), and measures in the same run the database's own ceiling
// for the same statements from the same number of goroutines without HTTP. It prints a table
// and writes the results as JSON. With -scale it measures latency against table size instead.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/cmd/loadbench/internal/statements"
	"github.com/acme/userservice/platform/database/dburl"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/kv"

	_ "github.com/ncruces/go-sqlite3/driver"
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
	defer os.RemoveAll(filepath.Dir(bin))
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

// result is one workload's median round.
type result struct {
	Workload   string  `json:"workload"`
	ReqPerSec  float64 `json:"req_per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int     `json:"errors"`
	CPUusPerRq float64 `json:"cpu_us_per_req"`
	// PeakRSSMiB is the service's highest resident set during this workload, and PeakAnonMiB
	// the highest sample of its anonymous part (heap, stacks; the rest is the binary's code).
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	PeakAnonMiB float64 `json:"peak_anon_mib"`
	// GenCPUusPerRq is the load generator's own CPU per request: on a shared machine it is
	// taken from the service and the database.
	GenCPUusPerRq float64 `json:"loadgen_cpu_us_per_req"`
	Ceiling       float64 `json:"db_ceiling_per_sec,omitempty"`
	Ratio         float64 `json:"ratio_to_ceiling,omitempty"`
	// InsertCeiling is, for register, the ceiling of the user's INSERT alone (the register
	// ceiling before the outbox), and RatioToInsert the service's share of it: what the
	// outbox and its consumers cost.
	InsertCeiling float64 `json:"insert_ceiling_per_sec,omitempty"`
	RatioToInsert float64 `json:"ratio_to_insert_ceiling,omitempty"`
	// Minimal is the hand-written baseline's req/s (PostgreSQL: health, register, get,
	// deactivate), and RatioToMinimal the service's share of it.
	Minimal        float64 `json:"minimal_per_sec,omitempty"`
	MinimalP99ms   float64 `json:"minimal_p99_ms,omitempty"`
	RatioToMinimal float64 `json:"ratio_to_minimal,omitempty"`
	// SettledSec is how long the workload waited for the one before to be worked off, and
	// DrainedSec how long its own background work (events relayed, mails sent) went on after
	// its requests were answered.
	SettledSec float64 `json:"settled_sec"`
	DrainedSec float64 `json:"drained_sec"`
}

type engineResult struct {
	Engine    string  `json:"engine"`
	StartupMs float64 `json:"startup_ms"`
	// PeakRSSMiB is the highest resident set of the service during the workloads other than
	// login, whose argon2id hashing holds its own memory (PeakRSSLoginMiB).
	PeakRSSMiB      float64  `json:"peak_rss_mib"`
	PeakAnonMiB     float64  `json:"peak_anon_mib"`
	PeakRSSLoginMiB float64  `json:"peak_rss_login_mib,omitempty"`
	Results         []result `json:"results"`
}

// database is a fresh benchmark database and what is needed to talk to it directly.
type database struct {
	engine string
	url    string // DATABASE_URL for the service
	pool   *pgxpool.Pool
	sql    *sql.DB
	drop   func()
	// stmts are the service's own statements (queries/{users,events}/<engine>/queries.sql) by
	// name.
	stmts map[string]string
}

// unrelayedPart is the outbox part of the ceilings' events: one that no relay reads (the
// service's are 0 to events.Parts-1). A ceiling is the request's statements alone; the idle
// service next to it must not turn the ceiling's events into publishing and audit work of its
// own, competing with the ceiling's writers. (What the measured requests' events cost the
// relay and the consumers is the service's to bear, and counts.)
const unrelayedPart = int16(events.Parts)

// registerWithEvent runs what registering runs: the user's INSERT and the outbox's, atomically
// (one statement on PostgreSQL, as the service sends it; a transaction on SQLite).
func (d *database) registerWithEvent(ctx context.Context, username, email string) error {
	id, now := uuid.Must(uuid.NewV7()), time.Now().UTC()
	env := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"userservice/users","type":"userservice.user.registered.v1","subject":%q,"time":%q,"datacontenttype":"application/json","data":{"user_id":%[2]q,"username":%q,"email":%q}}`,
		uuid.Must(uuid.NewV7()), id.String(), now.Format(time.RFC3339Nano), username, email)
	if d.pool != nil {
		_, err := d.pool.Exec(ctx, d.stmts["InsertUserWithEvents"], pgtype.UUID{Bytes: id, Valid: true}, username, email, true, "user", nil, now, now, nil,
			[]pgtype.UUID{{Bytes: uuid.Must(uuid.NewV7()), Valid: true}}, []string{"userservice.user.registered.v1"}, []int16{unrelayedPart}, []time.Time{now}, []string{env})
		return err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, d.stmts["InsertUser"], id.String(), username, email, true, "user", nil, now, now, nil); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.stmts["AppendEvent"], uuid.Must(uuid.NewV7()).String(), "userservice.user.registered.v1", unrelayedPart, now, env); err != nil {
		return err
	}
	return tx.Commit()
}

// dropCeilingEvents deletes the events a ceiling wrote (to unrelayedPart). Left in the
// outbox, they would be scanned past by every poll of the idle service's relay for the rest of
// the run, during the next ceilings and workloads too: work that only the benchmark made.
func (d *database) dropCeilingEvents(ctx context.Context) error {
	var err error
	if d.pool != nil {
		_, err = d.pool.Exec(ctx, "DELETE FROM event_outbox WHERE part = $1", unrelayedPart)
	} else {
		_, err = d.sql.ExecContext(ctx, "DELETE FROM event_outbox WHERE part = ?", unrelayedPart)
	}
	if err != nil {
		return fmt.Errorf("drop the ceiling's events: %w", err)
	}
	return nil
}

func newDatabase(ctx context.Context, o options, engine string) (*database, error) {
	if engine == "sqlite" {
		dir, err := os.MkdirTemp("", "loadbench-sqlite-")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "bench.db")
		return &database{engine: engine, url: "sqlite://" + path, drop: func() { _ = os.RemoveAll(dir) }}, nil
	}
	admin, err := pgx.Connect(ctx, o.adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.adminURL, err)
	}
	name := fmt.Sprintf("loadbench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return nil, err
	}
	u, _ := url.Parse(o.adminURL)
	u.Path = "/" + name
	return &database{engine: engine, url: u.String(), drop: func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}}, nil
}

// open connects the benchmark itself, after the service created the schema.
func (d *database) open(ctx context.Context, conns int) error {
	if d.engine == "sqlite" {
		_, dsn, err := dburl.Parse(d.url) // the service's own DSN: its pragmas and time layout
		if err != nil {
			return err
		}
		db, err := sql.Open("sqlite3", dsn)
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		d.sql = db
		return nil
	}
	cfg, err := pgxpool.ParseConfig(d.url)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(conns)
	d.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	return err
}

func (d *database) close() {
	if d.pool != nil {
		d.pool.Close()
	}
	if d.sql != nil {
		_ = d.sql.Close()
	}
	d.drop()
}

// seed inserts n users directly (COPY on PostgreSQL), oldest first, and returns their ids and
// creation times.
func (d *database) seed(ctx context.Context, n int) ([]uuid.UUID, []time.Time, error) {
	ids := make([]uuid.UUID, n)
	times := make([]time.Time, n)
	start := time.Now().Add(-time.Duration(n) * time.Millisecond).UTC().Truncate(time.Microsecond)
	rows := make([][]any, n)
	for i := range n {
		ids[i] = uuid.Must(uuid.NewV7())
		at := start.Add(time.Duration(i) * time.Millisecond)
		times[i] = at
		rows[i] = []any{ids[i], fmt.Sprintf("seed_%d", i), fmt.Sprintf("seed%d@example.com", i), true, "user", at, at}
	}
	cols := []string{"user_id", "username", "email", "is_active", "role", "created_at", "updated_at"}
	if d.pool != nil {
		_, err := d.pool.CopyFrom(ctx, pgx.Identifier{"users"}, cols, pgx.CopyFromRows(rows))
		if err == nil {
			_, err = d.pool.Exec(ctx, "ANALYZE users")
		}
		return ids, times, err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO users ("+strings.Join(cols, ",")+") VALUES (?,?,?,?,?,?,?)")
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		r[0] = r[0].(uuid.UUID).String()
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			_ = tx.Rollback()
			return nil, nil, err
		}
	}
	return ids, times, tx.Commit()
}

// run runs the service's statement name with args and discards the result rows.
func (d *database) run(ctx context.Context, name string, args ...any) error {
	if d.pool != nil {
		return d.runPG(ctx, d.pool, name, args...)
	}
	q, ok := d.stmts[name]
	if !ok {
		return fmt.Errorf("no statement %s in queries/{users,events}/%s/queries.sql", name, d.engine)
	}
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = id.String()
		}
	}
	rows, err := d.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	_ = rows.Close()
	return rows.Err()
}

// changeWithEvent runs, on PostgreSQL, what the service runs to change a user and record the
// event: in a transaction, the row read for update, the update, the outbox's insert.
func (d *database) changeWithEvent(ctx context.Context, id uuid.UUID, typ string, active bool, email string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := d.runPG(ctx, tx, "GetUserForUpdate", id); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := d.runPG(ctx, tx, "UpdateUser", "n"+strings.ReplaceAll(id.String(), "-", ""), email, active, "user", nil, nil, now, id); err != nil {
			return err
		}
		env := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"userservice/users","type":%q,"subject":%q,"time":%q,"datacontenttype":"application/json","data":{"user_id":%[3]q}}`,
			uuid.Must(uuid.NewV7()), typ, id.String(), now.Format(time.RFC3339Nano))
		return d.runPG(ctx, tx, "AppendEvent", uuid.Must(uuid.NewV7()), typ, unrelayedPart, now, env)
	})
}

// runPG runs statement name on q (the pool or a transaction), with ids passed as the service's
// adapter passes them.
func (d *database) runPG(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, name string, args ...any) error {
	stmt, ok := d.stmts[name]
	if !ok {
		return fmt.Errorf("no statement %s in queries/{users,events}/%s/queries.sql", name, d.engine)
	}
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = pgtype.UUID{Bytes: id, Valid: true}
		}
	}
	{
		rows, err := q.Query(ctx, stmt, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	}
}

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
	cmd.Env = append(append(os.Environ(), "DATABASE_URL="+dbURL, "HTTP_ADDR="+addr, "JWT_SECRET="+jwtSecret), env...)
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

// cpuSeconds is the process's user+system CPU time so far.
func (s *service) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// resetPeakRSS starts the process's high-water resident set size afresh (proc(5), clear_refs).
func (s *service) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS is the process's high-water resident set size in MiB.
func (s *service) peakRSS() float64 { return s.status("VmHWM") }

// status is a size field of the process's /proc status (VmHWM, RssAnon, ...) in MiB.
func (s *service) status(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// sampleAnon samples the process's anonymous resident memory (heap, stacks: what the
// service allocates, as opposed to the binary's code mapped from the page cache) every 20 ms
// until stop is closed, and returns the highest sample.
func (s *service) sampleAnon(stop <-chan struct{}) <-chan float64 {
	out := make(chan float64, 1)
	go func() {
		peak := s.status("RssAnon")
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				out <- max(peak, s.status("RssAnon"))
				return
			case <-t.C:
				peak = max(peak, s.status("RssAnon"))
			}
		}
	}()
	return out
}

func cpus() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "processor\t:"))
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println("results written to", path)
	return os.WriteFile(path, b, 0o644)
}

// round is the outcome of driving one operation for a while.
type round struct {
	ok, errors int
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r round) perSec() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r round) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// op is one operation of a workload, run by goroutine worker (0 ≤ worker < concurrency).
type op func(worker int) error

// drive runs op from c goroutines for d or until n operations, whichever comes first.
func drive(c int, d time.Duration, n int, op op) round {
	var (
		wg      sync.WaitGroup
		count   atomic.Int64
		errs    atomic.Int64
		mu      sync.Mutex
		all     []time.Duration
		started = time.Now()
	)
	deadline := started.Add(d)
	for worker := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && count.Add(1) <= int64(n) {
				t := time.Now()
				if err := op(worker); err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return round{ok: len(all), errors: int(errs.Load()), elapsed: time.Since(started), latencies: all}
}

// median returns the round with the median throughput.
func median(rs []round) round {
	slices.SortFunc(rs, func(a, b round) int { return cmp.Compare(a.perSec(), b.perSec()) })
	return rs[len(rs)/2]
}

// measure warms op up, then runs the rounds. It returns the median round and the CPU seconds
// the service and this load generator spent per request over all rounds (warm-up excluded).
func measure(o options, svc *service, op op) (r round, svcCPU, genCPU float64) {
	drive(o.concurrency, o.warmup, o.maxRequests, op)
	s0, g0 := svc.cpuSeconds(), selfCPUSeconds()
	var rs []round
	n := 0
	for range o.rounds {
		x := drive(o.concurrency, o.duration, o.maxRequests, op)
		n += x.ok + x.errors
		rs = append(rs, x)
	}
	s1, g1 := svc.cpuSeconds(), selfCPUSeconds()
	return median(rs), (s1 - s0) / float64(max(n, 1)), (g1 - g0) / float64(max(n, 1))
}

// selfCPUSeconds is the user+system CPU time this process has used so far.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
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

// decode sends one request (set-up, not measured) and decodes its JSON answer into out.
func decode(method, url, token, body string, out any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// adminToken creates an admin with the service's CLI and logs in.
func adminToken(bin, dbURL, base string) (string, error) {
	cmd := exec.Command(bin, "admin", "create", "--username", "bench_admin", "--email", "bench_admin@example.com", "--password-stdin")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "JWT_SECRET="+jwtSecret)
	cmd.Stdin = strings.NewReader("bench admin password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("admin create: %v %s", err, out)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err := decode("POST", base+"/auth/token", "", `{"email":"bench_admin@example.com","password":"bench admin password"}`, &tok)
	return tok.AccessToken, err
}

// sessionOf reads the session (sid) of an access token the service issued: the ceilings check
// it as the service does.
func sessionOf(token string) (uuid.UUID, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return uuid.Nil, errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return uuid.Nil, err
	}
	var claims struct {
		Session uuid.UUID `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return uuid.Nil, fmt.Errorf("access token claims: %w", err)
	}
	return claims.Session, nil
}

func runEngine(o options, bin, minimalBin, engine string) (engineResult, error) {
	ctx := context.Background()
	db, err := newDatabase(ctx, o, engine)
	if err != nil {
		return engineResult{}, err
	}
	defer db.close()
	if db.stmts, err = statements.Load(engine); err != nil {
		return engineResult{}, err
	}
	// The first instance migrates and logs the admin in (the token outlives it); the second,
	// measured, starts on a migrated database without the memory of that setup's hashing.
	svc, _, err := startService(bin, db.url, false)
	if err != nil {
		return engineResult{}, err
	}
	token, err := adminToken(bin, db.url, svc.base)
	var me struct {
		UserID uuid.UUID `json:"user_id"`
	}
	if err == nil {
		err = decode("GET", svc.base+"/users/me", token, "", &me)
	}
	var session uuid.UUID
	if err == nil {
		session, err = sessionOf(token)
	}
	svc.stop()
	if err != nil {
		return engineResult{}, err
	}
	if err := db.open(ctx, o.concurrency); err != nil {
		return engineResult{}, err
	}
	ids, times, err := db.seed(ctx, o.seed)
	if err != nil {
		return engineResult{}, fmt.Errorf("seed: %w", err)
	}
	svc, startup, err := startService(bin, db.url, o.profileDir != "")
	if err != nil {
		return engineResult{}, err
	}
	defer svc.stop()
	conns := svc.conns(o.concurrency)
	defer closeAll(conns)
	// The baseline runs on PostgreSQL beside the service, idle until its turn.
	var base []*conn
	var baseline *service
	if engine == "postgres" {
		if baseline, err = startMinimal(minimalBin, db.url); err != nil {
			return engineResult{}, err
		}
		defer baseline.stop()
		base = baseline.conns(o.concurrency)
		defer closeAll(base)
	}
	// An authenticated request runs the account and session lookup, then the operation: the
	// ceiling of a protected workload is that same sequence of statements (GET /users/{id} is
	// one statement).
	authed := func(f op) op {
		return func(w int) error {
			if err := db.run(ctx, "GetCaller", session, me.UserID); err != nil {
				return err
			}
			return f(w)
		}
	}
	// SQLite's adapter updates by reading and writing in a transaction (see the adapter): no
	// single statement to hold it against.
	pgOnly := func(f op) op {
		if engine != "postgres" {
			return nil
		}
		return f
	}
	pick := func() string { return ids[rand.IntN(len(ids))].String() }
	var seq atomic.Int64
	run := time.Now().UnixNano() % 1e6 // keeps emails unique across rounds and runs
	next := func() int64 { return seq.Add(1) }
	deep := len(ids) * 9 / 10
	cursor := cursorAfter(times[deep], ids[deep])

	// The same service with the users cache in Redis, beside the other, for the *-cached
	// workloads; its ceiling is the cache's hit: one MGET of the keys a hit reads.
	var (
		cached  *service
		cconns  []*conn
		hitRead op
	)
	if o.redisURL != "" && (slices.Contains(o.workloads, "get-cached") || slices.Contains(o.workloads, "update-cached")) {
		if cached, _, err = startService(bin, db.url, false, "REDIS_URL="+o.redisURL); err != nil {
			return engineResult{}, err
		}
		defer cached.stop()
		cconns = cached.conns(o.concurrency)
		defer closeAll(cconns)
		if hitRead, err = redisHit(ctx, o.redisURL); err != nil {
			return engineResult{}, err
		}
	}
	onCached := func(f op) op {
		if cached == nil {
			return nil
		}
		return f
	}

	type workload struct {
		name    string
		http    op
		ceiling op
		minimal op // the hand-written baseline's same request, on PostgreSQL
		// on is the service measured: svc unless set.
		on *service
	}
	onBaseline := func(f op) op {
		if baseline == nil {
			return nil
		}
		return f
	}
	all := []workload{
		{"health", func(w int) error { return conns[w].do("GET", "/health", "", "", 200) }, nil,
			onBaseline(func(w int) error { return base[w].do("GET", "/health", "", "", 200) }), nil},
		{"register", func(w int) error {
			n := next()
			return conns[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"r%d_%d","email":"r%d_%d@example.com"}`, run, n, run, n), 201)
		}, func(int) error {
			n := next()
			return db.registerWithEvent(ctx, fmt.Sprintf("c%d_%d", run, n), fmt.Sprintf("c%d_%d@example.com", run, n))
		}, onBaseline(func(w int) error {
			n := next()
			return base[w].do("POST", "/users", "", fmt.Sprintf(`{"username":"m%d_%d","email":"m%d_%d@example.com"}`, run, n, run, n), 201)
		}), nil},
		// GET /users/{id} reads its caller in the same statement as the user.
		{"get", func(w int) error { return conns[w].do("GET", "/users/"+pick(), token, "", 200) },
			func(int) error {
				return db.run(ctx, "GetCallerAnd", session, me.UserID, ids[rand.IntN(len(ids))])
			},
			onBaseline(func(w int) error { return base[w].do("GET", "/users/"+pick(), "", "", 200) }), nil},
		{"get-cached", onCached(func(w int) error { return cconns[w].do("GET", "/users/"+pick(), token, "", 200) }), hitRead, nil, cached},
		{"list-first", func(w int) error { return conns[w].do("GET", "/users?limit=20", token, "", 200) },
			authed(func(int) error { return db.run(ctx, "ListUsersFirst", nil, 21) }), nil, nil},
		{"list-deep", func(w int) error { return conns[w].do("GET", "/users?limit=20&cursor="+cursor, token, "", 200) },
			authed(func(int) error { return db.run(ctx, "ListUsersAfter", times[deep], ids[deep], nil, 21) }), nil, nil},
		{"update", func(w int) error {
			return conns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"u%d_%d@example.com"}`, run, next()), 200)
		}, pgOnly(authed(func(int) error {
			return db.changeWithEvent(ctx, ids[rand.IntN(len(ids))], "userservice.user.updated.v1", true, fmt.Sprintf("cu%d_%d@example.com", run, next()))
		})), nil, nil},
		{"update-cached", onCached(func(w int) error {
			return cconns[w].do("PATCH", "/users/"+pick(), token, fmt.Sprintf(`{"email":"k%d_%d@example.com"}`, run, next()), 200)
		}), nil, nil, cached},
		{"deactivate", func(w int) error {
			return conns[w].do("POST", "/users/"+pick()+"/deactivate", token, "", 200)
		}, pgOnly(authed(func(int) error {
			id := ids[rand.IntN(len(ids))]
			return db.changeWithEvent(ctx, id, "userservice.user.deactivated.v1", false, "c_"+id.String()+"@example.com")
		})), onBaseline(func(w int) error { return base[w].do("POST", "/users/"+pick()+"/deactivate", "", "", 200) }), nil},
		{"login", func(w int) error {
			return conns[w].do("POST", "/auth/token", "", `{"email":"bench_admin@example.com","password":"bench admin password"}`, 200)
		}, nil, nil, nil},
	}
	// Register's ceiling before the outbox: the user's INSERT alone, measured beside the ceiling
	// of what it runs now, so that the outbox's cost shows in the same run.
	insertCeilings := map[string]op{"register": func(int) error {
		n, now := next(), time.Now().UTC()
		return db.run(ctx, "InsertUser", uuid.Must(uuid.NewV7()), fmt.Sprintf("i%d_%d", run, n), fmt.Sprintf("i%d_%d@example.com", run, n), true, "user", nil, now, now, nil)
	}}
	res := engineResult{Engine: engine, StartupMs: float64(startup.Microseconds()) / 1000}
	for _, w := range all {
		if !slices.Contains(o.workloads, w.name) || w.http == nil {
			continue
		}
		svc := svc
		if w.on != nil {
			svc = w.on
		}
		settled, err := svc.settle(2 * time.Minute)
		if err != nil {
			return res, fmt.Errorf("before %s: %w", w.name, err)
		}
		// Each workload's peak on its own: not the set-up's admin login, nor the one before.
		if err := svc.resetPeakRSS(); err != nil {
			return res, err
		}
		var profiled chan error
		if o.profileDir != "" {
			profiled = make(chan error, 1)
			go func() {
				time.Sleep(o.warmup) // profile the first measured round
				profiled <- svc.profileCPU(o.duration, filepath.Join(o.profileDir, engine+"-"+w.name+".pprof"))
			}()
		}
		stopSampling := make(chan struct{})
		anon := svc.sampleAnon(stopSampling)
		r, svcCPU, genCPU := measure(o, svc, w.http)
		close(stopSampling)
		if profiled != nil {
			if err := <-profiled; err != nil {
				return res, fmt.Errorf("profile %s: %w", w.name, err)
			}
		}
		out := result{
			Workload: w.name, ReqPerSec: r.perSec(), Errors: r.errors,
			P50ms: ms(r.quantile(0.50)), P99ms: ms(r.quantile(0.99)),
			CPUusPerRq: svcCPU * 1e6, GenCPUusPerRq: genCPU * 1e6, PeakRSSMiB: svc.peakRSS(), PeakAnonMiB: <-anon,
		}
		if w.name == "login" {
			res.PeakRSSLoginMiB = out.PeakRSSMiB
		} else {
			res.PeakRSSMiB = max(res.PeakRSSMiB, out.PeakRSSMiB)
			res.PeakAnonMiB = max(res.PeakAnonMiB, out.PeakAnonMiB)
		}
		// The workload's events and mails are worked off before its ceilings are measured.
		drained, err := svc.settle(2 * time.Minute)
		if err != nil {
			return res, fmt.Errorf("after %s: %w", w.name, err)
		}
		out.SettledSec, out.DrainedSec = settled.Seconds(), drained.Seconds()
		if w.ceiling != nil {
			c, _, _ := measure(o, svc, w.ceiling)
			out.Ceiling = c.perSec()
			if c.errors > 0 {
				return res, fmt.Errorf("ceiling of %s: %d errors", w.name, c.errors)
			}
			out.Ratio = out.ReqPerSec / out.Ceiling
			if err := db.dropCeilingEvents(ctx); err != nil {
				return res, err
			}
		}
		if insert := insertCeilings[w.name]; insert != nil {
			c, _, _ := measure(o, svc, insert)
			if c.errors > 0 {
				return res, fmt.Errorf("INSERT ceiling of %s: %d errors", w.name, c.errors)
			}
			out.InsertCeiling = c.perSec()
			out.RatioToInsert = out.ReqPerSec / out.InsertCeiling
		}
		if w.minimal != nil {
			m, _, _ := measure(o, baseline, w.minimal)
			if m.errors > 0 {
				return res, fmt.Errorf("baseline of %s: %d errors", w.name, m.errors)
			}
			out.Minimal, out.MinimalP99ms = m.perSec(), ms(m.quantile(0.99))
			out.RatioToMinimal = out.ReqPerSec / out.Minimal
		}
		res.Results = append(res.Results, out)
		fmt.Fprintf(os.Stderr, "  %s %s: %.0f req/s (its background work drained %.1f s after it)\n", engine, w.name, out.ReqPerSec, out.DrainedSec)
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printEngine(o options, r engineResult) {
	fmt.Printf("\n%s — %d connections, %s rounds × %d (median), %d CPUs, ready in %.1f ms, peak RSS %.1f MiB (anonymous %.1f MiB; %.1f MiB during login)\n",
		r.Engine, o.concurrency, o.duration, o.rounds, cpus(), r.StartupMs, r.PeakRSSMiB, r.PeakAnonMiB, r.PeakRSSLoginMiB)
	fmt.Println("DB ceiling: the statements the request runs (account lookup + operation when authenticated; one statement for both in get), from as many goroutines, no HTTP")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\treq/s\tp50 ms\tp99 ms\terrors\tCPU µs/req\tloadgen µs/req\tpeak RSS (anon) MiB\tDB ceiling/s\tservice/ceiling\tminimal/s\tminimal p99 ms\tservice/minimal\t")
	for _, x := range r.Results {
		ceil, ratio, minimal, minimalP99, share := "—", "—", "—", "—", "—"
		if x.Ceiling > 0 {
			ceil, ratio = fmt.Sprintf("%.0f", x.Ceiling), fmt.Sprintf("%.2f", x.Ratio)
		}
		if x.Minimal > 0 {
			minimal, share = fmt.Sprintf("%.0f", x.Minimal), fmt.Sprintf("%.2f", x.RatioToMinimal)
			minimalP99 = fmt.Sprintf("%.2f", x.MinimalP99ms)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\t%.0f\t%.0f\t%.1f (%.1f)\t%s\t%s\t%s\t%s\t%s\t\n", x.Workload, x.ReqPerSec, x.P50ms, x.P99ms, x.Errors, x.CPUusPerRq, x.GenCPUusPerRq, x.PeakRSSMiB, x.PeakAnonMiB, ceil, ratio, minimal, minimalP99, share)
	}
	_ = tw.Flush()
	for _, x := range r.Results {
		if x.InsertCeiling > 0 {
			fmt.Printf("%s: the user's INSERT alone (its ceiling before the outbox) %.0f/s; service / that = %.2f\n",
				x.Workload, x.InsertCeiling, x.RatioToInsert)
		}
	}
}

// redisHit returns the ceiling of the cache's hit: one MGET of three keys (the caller, their
// session, the user read), as GET /users/{id} runs it, on the Redis at url.
func redisHit(ctx context.Context, url string) (op, error) {
	rdb, err := kv.Open(url)
	if err != nil {
		return nil, err
	}
	keys := []string{"loadbench:hit:caller", "loadbench:hit:session", "loadbench:hit:user"}
	for _, k := range keys {
		// A user's cached form is about 300 bytes of JSON.
		if err := rdb.Set(ctx, k, strings.Repeat("x", 300), time.Hour).Err(); err != nil {
			return nil, fmt.Errorf("redis %s: %w", url, err)
		}
	}
	return func(int) error { return rdb.MGet(ctx, keys...).Err() }, nil
}
