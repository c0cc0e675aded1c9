package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/cmd/userservice/modules"
	"github.com/acme/userservice/platform/app"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
)

// TestCompositionsValidate checks every binary's fx graph without running constructors: a
// missing provider fails here, naming the type.
func TestCompositionsValidate(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  fx.Option
	}{
		{"serve", app.Serve(cfg, features())},
		{"migrate and admin", fx.Options(app.Tools(cfg, features()), fx.Invoke(func(*database.Migrator, identity.Admins) {}))},
		{"serve without any module", app.Serve(cfg, fx.Options())},
	}
	for _, tc := range tests {
		if err := fx.ValidateApp(tc.opt); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestServiceWithoutModules proves the plugin seam: with no feature module the service builds,
// starts and serves the platform's operations, and every module operation of the contract
// answers a problem+json 404, before authentication or decoding could answer otherwise.
func TestServiceWithoutModules(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, database.SQLite, fx.Options())
	if h, err := a.Client.GetHealth(ctx); err != nil || h.Status != oas.HealthStatusHealthy {
		t.Fatalf("health: %+v %v", h, err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/users", `{"username":"nobody","email":"nobody@example.com"}`},
		{"POST", "/users", `not json`},
		{"GET", "/users", ""},
		{"GET", "/users/me", ""},
		{"DELETE", "/users/3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10", ""},
		{"POST", "/auth/token", `{"email":"a@b.cc","password":"whatever"}`},
	} {
		status, h, body := a.Raw(t, tc.method, tc.path, "", tc.body)
		if status != http.StatusNotFound || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s without the users module: %d %s %s", tc.method, tc.path, status, h.Get("Content-Type"), body)
		}
	}
}

// TestServedContractHasOnlyTheModulesServed: the contract served at /openapi.json (and so the
// /docs page, which reads it) holds the operations of the modules in the service and no other.
func TestServedContractHasOnlyTheModulesServed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		features   fx.Option
		has, lacks []string
	}{
		{"every module", features(), []string{"/users", "/audit-events", "/auth/password-reset", "/health", "/events"}, nil},
		{"users alone", modules.Users(), []string{"/users", "/users/me", "/health"}, []string{"/audit-events", "/auth/password-reset"}},
		{"no module", fx.Options(), []string{"/health", "/events"}, []string{"/users", "/users/{user_id}", "/audit-events"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, database.SQLite, tc.features)
			status, _, body := get(t, a.Base+"/openapi.json")
			var doc struct{ Paths map[string]any }
			if err := json.Unmarshal([]byte(body), &doc); status != http.StatusOK || err != nil {
				t.Fatalf("GET /openapi.json: %d %v", status, err)
			}
			for _, p := range tc.has {
				if _, ok := doc.Paths[p]; !ok {
					t.Errorf("%s is not in the served contract", p)
				}
			}
			for _, p := range tc.lacks {
				if _, ok := doc.Paths[p]; ok {
					t.Errorf("%s is in the served contract without its module", p)
				}
			}
		})
	}
}

// api is the whole service, as `serve` composes it, started for a test.
type api struct{ *apptest.App }

// startAPI starts the service on a fresh database of the engine and a free port.
func startAPI(t *testing.T, engine database.Engine, opts ...apptest.Option) *api {
	t.Helper()
	return &api{apptest.Start(t, engine, features(), opts...)}
}

// forEngine runs fn on the service on every engine, in parallel.
func forEngine(t *testing.T, fn func(t *testing.T, a *api)) {
	t.Helper()
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) { fn(t, startAPI(t, engine)) })
}

// withLogger makes the application log to log.
func withLogger(log *zap.Logger) apptest.Option {
	return apptest.With(fx.Decorate(func(*zap.Logger) *zap.Logger { return log }))
}

var ctx = context.Background()

// register registers a user without a password through the generated client.
func (a *api) register(t *testing.T, username, email string) *oas.User {
	t.Helper()
	res, err := a.Client.RegisterUser(ctx, &oas.RegisterUserRequest{Username: username, Email: email})
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	created, ok := res.(*oas.UserHeaders)
	if !ok {
		t.Fatalf("register %s: %T %+v", username, res, res)
	}
	return &created.Response
}
