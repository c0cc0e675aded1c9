package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/throttle/redistest"
)

// slow skips tests that take seconds (a database outage, load with a shutdown, two
// processes) unless SLOW_TESTS=1, which `make test-all` and CI set.
func slow(t *testing.T) {
	t.Helper()
	if os.Getenv("SLOW_TESTS") != "1" {
		t.Skip("SKIPPED: slow test; run make test-all (SLOW_TESTS=1)")
	}
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		live, err := a.Client.GetLiveness(ctx)
		if err != nil || live.Status != oas.StatusStatusOk {
			t.Fatalf("livez: %+v %v", live, err)
		}
		ready, err := a.Client.GetReadiness(ctx)
		if _, ok := ready.(*oas.Status); err != nil || !ok {
			t.Fatalf("readyz: %+v %v", ready, err)
		}
		u := a.register(t, "john_doe", "john@example.com")
		a.Raw(t, "GET", "/users/"+u.UserID.String(), "", "")

		req, _ := http.NewRequest("GET", a.Base+"/health", nil)
		req.Header.Set("X-Request-ID", "my-request-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.Header.Get("X-Request-ID") != "my-request-42" {
			t.Fatalf("request id echoed as %q", resp.Header.Get("X-Request-ID"))
		}

		status, h, body := get(t, a.Base+"/metrics")
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", status, h.Get("Content-Type"))
		}
		want := []string{
			`http_requests_total{code="201",method="POST",route="/users"} 1`,
			`http_requests_total{code="401",method="GET",route="/users/{user_id}"} 1`,
			`http_request_duration_seconds_bucket{method="POST",route="/users",le="+Inf"} 1`,
			"users_registered_total 1",
			"events_outbox_backlog ",
			"events_outbox_oldest_age_seconds ",
			"events_published_total ",
			"go_goroutines ",
			"process_resident_memory_bytes ",
		}
		if strings.Contains(a.Config.DatabaseURL, "postgres") {
			want = append(want, "db_pool_max_connections ", "db_pool_acquires_total ")
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("metrics lack %q", w)
			}
		}
		if strings.Contains(body, u.UserID.String()) {
			t.Error("a raw path leaked into a metric label")
		}
	})
}

// TestDatabaseOutage stops the service's PostgreSQL under it: requests that need the database
// get 503 quickly (never a hang, never a 500), /readyz says 503 while /livez stays 200, and
// when the database is back the service recovers by itself with nothing lost.
func TestDatabaseOutage(t *testing.T) {
	slow(t)
	t.Parallel()
	cluster := dbtest.StartCluster(t)
	a := startAPI(t, database.Postgres, apptest.Env("DATABASE_URL", cluster.URL()), apptest.Env("REQUEST_TIMEOUT", "3s"))
	a.register(t, "before", "before@example.com")

	cluster.Stop(t)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 5 {
		start := time.Now()
		req, _ := http.NewRequest("POST", a.Base+"/users", strings.NewReader(fmt.Sprintf(`{"username":"during_%d","email":"during%d@example.com"}`, i, i)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("during the outage: %v (after %v)", err, time.Since(start))
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("during the outage: %d %s", resp.StatusCode, body)
		}
	}
	if status, _, body := get(t, a.Base+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Fatalf("readyz during the outage: %d %s", status, body)
	}
	if status, _, _ := get(t, a.Base+"/livez"); status != http.StatusOK {
		t.Fatalf("livez during the outage: %d", status)
	}

	cluster.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, _ := get(t, a.Base+"/readyz")
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not recover")
		}
		time.Sleep(200 * time.Millisecond)
	}
	a.register(t, "after", "after@example.com")
	// The user registered before the outage is still there.
	res, err := a.Client.RegisterUser(ctx, &oas.RegisterUserRequest{Username: "again", Email: "before@example.com"})
	if _, ok := res.(*oas.RegisterUserConflict); err != nil || !ok {
		t.Fatalf("the user from before the outage is gone: %T %v", res, err)
	}
}

// loadRegistrations registers users through base from n goroutines until stop is closed or
// the server stops answering; it returns the emails that got a 201.
func loadRegistrations(base string, n int, stop <-chan struct{}) []string {
	var (
		mu      sync.Mutex
		created []string
		wg      sync.WaitGroup
		seq     atomic.Int64
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1)
				email := fmt.Sprintf("load%d@example.com", i)
				resp, err := client.Post(base+"/users", "application/json",
					strings.NewReader(fmt.Sprintf(`{"username":"load_%d","email":%q}`, i, email)))
				if err != nil {
					return // the server is gone: refused or closed
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					created = append(created, email)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return created
}

// TestShutdownUnderLoad sends SIGTERM to the binary while it takes registrations: it exits 0
// within SHUTDOWN_TIMEOUT and every registration that got a 201 is in the database.
func TestShutdownUnderLoad(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	dbURL := dbtest.URL(t, database.Postgres)
	addr := freeAddr(t)
	// REGISTRATION_MAX_PER_ADDR=0: the load comes from one address, which the limit would stop.
	cmd, stderr := startServe(t, bin, map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": addr, "JWT_SECRET": apptest.Secret, "SHUTDOWN_TIMEOUT": "10s",
		"REGISTRATION_MAX_PER_ADDR": "0"})

	stop := make(chan struct{})
	done := make(chan []string)
	go func() { done <- loadRegistrations("http://"+addr, 16, stop) }()
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit0(t, cmd, stderr, 15*time.Second) // SHUTDOWN_TIMEOUT is 10s
	close(stop)
	created := <-done
	if len(created) < 10 {
		t.Fatalf("only %d registrations under load", len(created))
	}

	db, err := database.Open(context.Background(), database.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE email = ANY($1)", created).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(created) {
		t.Fatalf("%d registrations got 201, %d are stored", len(created), stored)
	}
	t.Logf("%d registrations acknowledged and stored across the shutdown", stored)
}

// TestTwoInstances starts two processes on one fresh PostgreSQL schema at the same moment
// (their migrations must not collide) and races same-email registrations across both: exactly
// one 201.
func TestTwoInstances(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	dbURL := dbtest.URL(t, database.Postgres)
	var bases []string
	var cmds []*startedCmd
	for range 2 {
		addr := freeAddr(t)
		// REGISTRATION_MAX_PER_ADDR=0: the 64 racers come from one address, past the limit.
		c := command(bin, map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": addr, "JWT_SECRET": apptest.Secret,
			"REGISTRATION_MAX_PER_ADDR": "0"})
		cmds = append(cmds, &startedCmd{cmd: c})
		bases = append(bases, "http://"+addr)
	}
	for _, c := range cmds { // as close to the same moment as two execs get
		c.cmd.Stderr = &c.stderr
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.cmd.Process.Kill() }()
	}
	for i, b := range bases {
		waitReady(t, b, &cmds[i].stderr)
	}

	const n = 64
	var wg sync.WaitGroup
	var created, conflicts atomic.Int32
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Post(bases[i%2]+"/users", "application/json",
				strings.NewReader(fmt.Sprintf(`{"username":"racer_%d","email":"race@example.com"}`, i)))
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusConflict:
				conflicts.Add(1)
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	close(start)
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d created, %d conflicts; want 1 and %d", created.Load(), conflicts.Load(), n-1)
	}
	for _, c := range cmds {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		if err := c.cmd.Wait(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Errorf("exit %d:\n%s", ee.ExitCode(), c.stderr.String())
			}
		}
	}
}

type startedCmd struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

// TestTracing continues an incoming trace: the HTTP server span and the PostgreSQL statement
// spans carry the caller's trace id, and the request log line names it.
func TestTracing(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	core, logs := observer.New(zapcore.InfoLevel)
	a := startAPI(t, database.Postgres,
		apptest.With(fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp })),
		withLogger(zap.New(core)),
	)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", a.Base+"/users", strings.NewReader(`{"username":"traced","email":"traced@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var server, db bool
	for _, s := range exporter.GetSpans() {
		if s.SpanContext.TraceID().String() != traceID {
			continue
		}
		switch {
		case s.Name == "POST /users":
			server = true
		case strings.HasPrefix(s.Name, "WITH"), // registering is one statement, a data-modifying CTE
			strings.Contains(strings.ToLower(s.Name), "insert"), strings.Contains(s.Name, "query"):
			db = true
		}
	}
	if !server || !db {
		var names []string
		for _, s := range exporter.GetSpans() {
			names = append(names, s.Name+" "+s.SpanContext.TraceID().String())
		}
		t.Fatalf("server span %v, database span %v; spans: %v", server, db, names)
	}
	found := false
	for _, e := range logs.FilterMessage("request").All() {
		if e.ContextMap()["trace_id"] == traceID && e.ContextMap()["client_addr"] == "127.0.0.1" {
			found = true
		}
	}
	if !found {
		t.Fatal("the request log line lacks the trace id or the client's address")
	}
}

// TestSlowClientsAreCut: a client that never finishes its headers is disconnected after
// HTTP_READ_HEADER_TIMEOUT instead of holding a connection forever.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite, apptest.Env("HTTP_READ_HEADER_TIMEOUT", "300ms"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.Base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a slow client's connection open")
	}
}

// TestChangesFeed walks GET /events as an admin while users register: every registration's
// event appears once, in order, as a CloudEvent; the cursor of the last page brings what
// happened since; the type filter and the admin-only rule hold.
func TestChangesFeed(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admin := a.NewAdmin(t)
		var registered []string
		seen := map[string]bool{}
		params := oas.ListEventsParams{Limit: oas.NewOptInt(2), Type: oas.NewOptString(userevents.TypeRegistered)}
		for round := range 3 {
			for i := range 3 {
				u := a.register(t, fmt.Sprintf("feed_%d_%d", round, i), fmt.Sprintf("feed_%d_%d@example.com", round, i))
				registered = append(registered, u.UserID.String())
			}
			// Catch up: page until the feed has every registration so far (the relay is
			// asynchronous), keeping the cursor for the next round.
			for deadline := time.Now().Add(10 * time.Second); len(seen) < len(registered)+1; {
				if time.Now().After(deadline) {
					t.Fatalf("the feed shows %d of %d registrations", len(seen), len(registered)+1)
				}
				res, err := admin.Client.ListEvents(ctx, params)
				if err != nil {
					t.Fatal(err)
				}
				page := res.(*oas.EventPage)
				for _, e := range page.Items {
					subject := e.Subject.Or("")
					if seen[subject] {
						t.Fatalf("event about %s fed twice", subject)
					}
					seen[subject] = true
					if e.Specversion != "1.0" || e.Source != "userservice/users" || e.Type != userevents.TypeRegistered {
						t.Fatalf("event %+v", e)
					}
				}
				params.After = oas.NewOptString(page.NextCursor)
				if len(page.Items) == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
		for _, id := range registered {
			if !seen[id] {
				t.Errorf("registration of %s not in the feed", id)
			}
		}
		if res, err := a.NewUser(t).Client.ListEvents(ctx, oas.ListEventsParams{}); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.ListEventsForbidden); !ok {
			t.Fatalf("a user reads the feed: %T", res)
		}
		if status, _, body := a.Raw(t, "GET", "/events?after=garbage", admin.Token, ""); status != http.StatusBadRequest || !strings.Contains(body, "after") {
			t.Errorf("garbage cursor: %d %s", status, body)
		}
	})
}

// TestCORS: with CORS_ALLOWED_ORIGINS, a browser application of an allowed origin gets its
// preflight answered and the CORS headers on the response; another origin gets none; without
// the setting (the default) a preflight is an unknown method, as before.
func TestCORS(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	preflight := func(a *api, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, a.Base+"/users", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type") // as browsers send it
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	on := startAPI(t, database.SQLite, apptest.Env("CORS_ALLOWED_ORIGINS", app+",https://admin.example.com"))
	resp := preflight(on, app)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Fatalf("preflight from %s: %d %v", app, resp.StatusCode, resp.Header)
	}
	if resp := preflight(on, "https://evil.example.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", resp.Header)
	}
	req, _ := http.NewRequest(http.MethodPost, on.Base+"/users", strings.NewReader(`{"username":"browser","email":"browser@example.com"}`))
	req.Header.Set("Origin", app)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated || res.Header.Get("Access-Control-Allow-Origin") != app ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Fatalf("request from %s: %d %v", app, res.StatusCode, res.Header)
	}
	off := startAPI(t, database.SQLite)
	if resp := preflight(off, app); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS off: preflight %d %v", resp.StatusCode, resp.Header)
	}
}

// TestRefusalsAreLoggedAtDebug: a 4xx answer keeps its cause to itself (why a token was
// refused) but the debug log has it, with the request id.
func TestRefusalsAreLoggedAtDebug(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	a := startAPI(t, database.SQLite, withLogger(zap.New(core)))
	status, h, _ := a.Raw(t, "GET", "/users/me", "not-a-token", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d", status)
	}
	status, _, _ = a.Raw(t, "POST", "/users", "", `{"username":"ab","email":"a@b.co"}`)
	if status != http.StatusBadRequest {
		t.Fatalf("status %d", status)
	}
	refused := logs.FilterMessage("request refused").All()
	if len(refused) != 2 {
		t.Fatalf("%d refusals logged, want 2", len(refused))
	}
	first := refused[0].ContextMap()
	if first["status"] != int64(401) || first["request_id"] != h.Get("X-Request-Id") || first["error"] == "" {
		t.Fatalf("the 401's log entry: %v", first)
	}
	if second := refused[1].ContextMap(); second["status"] != int64(400) || !strings.Contains(second["detail"].(string), "username") {
		t.Fatalf("the 400's log entry: %v", second)
	}
}

// TestLoginThrottleAcrossInstances: with REDIS_URL, two instances share the login throttle:
// the failures from one address that one instance counted block that address, for the account,
// on the other.
func TestLoginThrottleAcrossInstances(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	dbURL := dbtest.URL(t, database.Postgres)
	rds := redistest.Start(t)
	var bases []string
	for range 2 {
		addr := freeAddr(t)
		startServe(t, bin, map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": addr, "JWT_SECRET": apptest.Secret,
			"REDIS_URL": rds.URL(), "LOGIN_MAX_FAILURES": "3"})
		bases = append(bases, "http://"+addr)
	}
	post := func(base, path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	if resp := post(bases[0], "/users", `{"username":"shared","email":"shared@example.com","password":"the right password"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	for range 3 {
		if resp := post(bases[0], "/auth/token", `{"email":"shared@example.com","password":"a wrong password"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed login: %d", resp.StatusCode)
		}
	}
	resp := post(bases[1], "/auth/token", `{"email":"shared@example.com","password":"the right password"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the other instance answers %d (Retry-After %q); want 429: the block is shared", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestCacheAcrossInstances: two binaries on one database and one Redis, the users cache on.
// What one instance changes (a role, a deactivation, a logout, a deletion), the other applies at
// the next request, though it had the account cached.
func TestCacheAcrossInstances(t *testing.T) {
	slow(t)
	t.Parallel()
	bin := buildBinary(t)
	dbURL := dbtest.URL(t, database.Postgres)
	rds := redistest.Start(t)
	var a, b string
	for _, base := range []*string{&a, &b} {
		addr := freeAddr(t)
		startServe(t, bin, map[string]string{"DATABASE_URL": dbURL, "HTTP_ADDR": addr, "JWT_SECRET": apptest.Secret,
			"REDIS_URL": rds.URL(), "CACHE_TTL": "1m"})
		*base = "http://" + addr
	}
	cmd := command(bin, map[string]string{"DATABASE_URL": dbURL}, "admin", "create", "--username", "root", "--email", "root@example.com", "--password-stdin")
	cmd.Stdin = strings.NewReader("root password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
	call := func(method, url, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	login := func(base, email, password string) string {
		t.Helper()
		status, body := call("POST", base+"/auth/token", "", `{"email":"`+email+`","password":"`+password+`"}`)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(body), &tok); status != http.StatusOK || err != nil {
			t.Fatalf("login %s: %d %s", email, status, body)
		}
		return tok.AccessToken
	}
	// me reads /users/me on b twice (a fill, then a hit) and returns the status and body.
	me := func(token string) (int, string) {
		t.Helper()
		call("GET", b+"/users/me", token, "")
		return call("GET", b+"/users/me", token, "")
	}
	status, body := call("POST", a+"/users", "", `{"username":"alice","email":"alice@example.com","password":"alice's password"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, body)
	}
	var alice struct {
		ID string `json:"user_id"`
	}
	_ = json.Unmarshal([]byte(body), &alice)
	root := login(a, "root@example.com", "root password")
	tok := login(a, "alice@example.com", "alice's password")
	if status, body := me(tok); status != http.StatusOK || !strings.Contains(body, `"role":"user"`) {
		t.Fatalf("b: %d %s", status, body)
	}

	steps := []struct {
		name                string
		method, path, token string
		check               func(status int, body string) bool
	}{
		{"a role change", "PATCH", "/users/" + alice.ID, root, func(s int, b string) bool { return s == http.StatusOK && strings.Contains(b, `"role":"admin"`) }},
		{"a logout", "POST", "/auth/logout", "", func(s int, _ string) bool { return s == http.StatusUnauthorized }},
		{"a deactivation", "POST", "/users/" + alice.ID + "/deactivate", root, func(s int, _ string) bool { return s == http.StatusUnauthorized }},
		{"a deletion", "DELETE", "/users/" + alice.ID, root, func(s int, _ string) bool { return s == http.StatusUnauthorized }},
	}
	for _, step := range steps {
		token, body := step.token, ""
		if step.method == "PATCH" {
			body = `{"role":"admin"}`
		}
		if step.name == "a logout" {
			token = tok
		}
		if step.name == "a deactivation" {
			// The role change and the logout are done with: a fresh session, cached on b.
			tok = login(a, "alice@example.com", "alice's password")
			me(tok)
		}
		if step.name == "a deletion" {
			call("POST", a+"/users/"+alice.ID+"/activate", root, "")
			tok = login(a, "alice@example.com", "alice's password")
			me(tok)
		}
		if status, got := call(step.method, a+step.path, token, body); status >= 300 {
			t.Fatalf("%s on a: %d %s", step.name, status, got)
		}
		if status, got := call("GET", b+"/users/me", tok, ""); !step.check(status, got) {
			t.Fatalf("after %s on a, b answers %d %s", step.name, status, got)
		}
	}
}
