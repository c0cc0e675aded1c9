package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/fx"

	"github.com/acme/userservice/platform/app"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
)

// BenchmarkAPI measures one request of each operation through the whole handler chain
// (middleware, ogen decode/encode, authentication, the use case, the database) without the
// network, so allocations per request are visible: go test -bench API -benchmem ./cmd/userservice.
// Logging is at the production default (info, one line per request, to io.Discard-like sink).
func BenchmarkAPI(b *testing.B) {
	for _, engine := range dbtest.Engines() {
		b.Run(string(engine), func(b *testing.B) { benchmarkAPI(b, engine) })
	}
}

func benchmarkAPI(b *testing.B, engine database.Engine) {
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "DATABASE_URL": dbtest.URL(b, engine), "JWT_SECRET": apptest.Secret,
		"LOG_LEVEL": "warn",
		// Every request comes from httptest's one address: the registrations must not stop.
		"REGISTRATION_MAX_PER_ADDR": "0",
	})
	if err != nil {
		b.Fatal(err)
	}
	var h http.Handler
	app := fx.New(app.Serve(cfg, features()), fx.Populate(&h), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = app.Stop(context.Background()) })
	if _, err := createAdmin(context.Background(), cfg, "bench_admin", "bench@example.com", "bench password"); err != nil {
		b.Fatal(err)
	}
	serve := func(method, path, token, body string) *httptest.ResponseRecorder {
		var req *http.Request
		if body != "" {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := serve("POST", "/auth/token", "", `{"email":"bench@example.com","password":"bench password"}`)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		b.Fatal(rec.Body.String())
	}
	admin := tok.AccessToken
	var target struct {
		UserID string `json:"user_id"`
	}
	rec = serve("POST", "/users", "", `{"username":"target","email":"target@example.com"}`)
	_ = json.Unmarshal(rec.Body.Bytes(), &target)
	for i := range 50 {
		serve("POST", "/users", "", fmt.Sprintf(`{"username":"seed_%d","email":"seed%d@example.com"}`, i, i))
	}

	var seq atomic.Int64
	ops := []struct {
		name, method string
		path         func() string
		token        string
		body         func() string
		status       int
	}{
		{"health", "GET", func() string { return "/health" }, "", nil, 200},
		{"register", "POST", func() string { return "/users" }, "", func() string {
			n := seq.Add(1)
			return fmt.Sprintf(`{"username":"bench_%d","email":"bench%d@example.com"}`, n, n)
		}, 201},
		{"get", "GET", func() string { return "/users/" + target.UserID }, admin, nil, 200},
		{"list", "GET", func() string { return "/users?limit=20" }, admin, nil, 200},
		{"update", "PATCH", func() string { return "/users/" + target.UserID }, admin, func() string {
			return fmt.Sprintf(`{"email":"target%d@example.com"}`, seq.Add(1))
		}, 200},
		{"deactivate", "POST", func() string { return "/users/" + target.UserID + "/deactivate" }, admin, nil, 200},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				body := ""
				if op.body != nil {
					body = op.body()
				}
				if rec := serve(op.method, op.path(), op.token, body); rec.Code != op.status {
					b.Fatalf("%s: %d %s", op.name, rec.Code, rec.Body.String())
				}
			}
		})
	}
}
