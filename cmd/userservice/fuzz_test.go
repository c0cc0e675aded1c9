package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/acme/userservice/platform/app"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
)

// FuzzAPI sends arbitrary methods, paths, headers and bodies through the real handler chain
// (middleware, ogen decoding, every module, SQLite): whatever arrives, the answer is never a
// 5xx, and every error is a JSON problem. The seed corpus is in testdata/fuzz/FuzzAPI.
func FuzzAPI(f *testing.F) { fuzzAPI(f, database.SQLite) }

// FuzzAPIPostgres is FuzzAPI on PostgreSQL, which refuses some text SQLite stores (a NUL, bytes
// that are not UTF-8): what the service lets through to it must not fail a statement.
func FuzzAPIPostgres(f *testing.F) { fuzzAPI(f, database.Postgres) }

func fuzzAPI(f *testing.F, engine database.Engine) {
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "DATABASE_URL": dbtest.URL(f, engine),
		"LOG_LEVEL": "fatal", "JWT_SECRET": apptest.Secret,
		// Every input comes from httptest's one address: past the limit, registrations would
		// all be 429 and the fuzzer would stop reaching the use case.
		"REGISTRATION_MAX_PER_ADDR": "0",
	})
	if err != nil {
		f.Fatal(err)
	}
	var handler http.Handler
	app := fx.New(app.Serve(cfg, features()), apptest.CheapHashing(), fx.Populate(&handler), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = app.Stop(context.Background()) })

	// A real token, so that the fuzzer also reaches the protected operations.
	if _, err := createAdmin(context.Background(), cfg, "fuzz_admin", "fuzz@example.com", "fuzz password"); err != nil {
		f.Fatal(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, jsonRequest("POST", "/auth/token", `{"email":"fuzz@example.com","password":"fuzz password"}`))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		f.Fatalf("login: %s", rec.Body.String())
	}

	for _, seed := range []struct {
		method, path, body string
		auth               bool
	}{
		{"POST", "/users", `{"username":"john_doe","email":"john@example.com","password":"12345678"}`, false},
		{"POST", "/users", `{"username":`, false},
		{"POST", "/auth/token", `{"email":"john@example.com","password":"12345678"}`, false},
		{"GET", "/users?limit=5&cursor=AQAAAAAAAAAA&is_active=true", "", true},
		{"PATCH", "/users/3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10", `{"role":"admin","email":"x@y.zz"}`, true},
		{"POST", "/users/me/password", `{"current_password":"a","new_password":"bbbbbbbb"}`, true},
		{"DELETE", "/users/not-a-uuid", "", true},
		{"GET", "/%zz/../users", "", false},
		// Text PostgreSQL refuses, in a body and in parameters.
		{"POST", "/auth/token", `{"email":"a\u0000b@example.com","password":"12345678"}`, false},
		{"POST", "/auth/password-reset", "{\"email\":\"\xff@example.com\"}", false},
		{"GET", "/audit-events?type=%00", "", true},
		{"GET", "/events?type=%FF", "", true},
	} {
		f.Add(seed.method, seed.path, []byte(seed.body), seed.auth)
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte, auth bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://service"+path, bytes.NewReader(body))
		if err != nil {
			return // not an HTTP request the server could receive
		}
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q %q: %d %s", method, path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %q: %d with content type %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if rec.Body.Len() > 0 && rec.Header().Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON %q", method, path, rec.Body.String())
		}
	})
}

func jsonRequest(method, path, body string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}
