package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/acme/userservice/platform/apitest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/health"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/logging"
	"github.com/acme/userservice/platform/oas"
)

// TestCompositionsValidate checks every binary's fx graph without running constructors: a
// missing provider (say, a module removed from features) fails here, naming the type.
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
		{"serve", serveModules(cfg)},
		{"migrate", fx.Options(migrateModules(cfg), fx.Invoke(func(*database.Migrator) {}))},
	}
	for _, tc := range tests {
		if err := fx.ValidateApp(tc.opt); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestCompositionWithoutUsersFailsToBuild proves the plugin seam: without the users module the
// server lacks its Users operation group and the graph says so.
func TestCompositionWithoutUsersFailsToBuild(t *testing.T) {
	t.Parallel()
	cfg, _ := config.Parse(map[string]string{})
	err := fx.ValidateApp(config.Module(cfg), logging.Module, database.Module, httpserver.Module, health.Module)
	if err == nil || !strings.Contains(err.Error(), "oas.UsersHandler") {
		t.Fatalf("want a missing oas.UsersHandler, got %v", err)
	}
}

// api is a running service and clients for it.
type api struct {
	base string
	// client is the generated client; its traffic is checked against openapi.yaml.
	client *oas.Client
	// validator checks raw traffic; use validator.ResponsesOnly() for deliberately bad requests.
	validator *apitest.Validator
}

// startAPI starts the whole application, as `serve` does, on a fresh database of the engine
// and a free port; it stops when the test ends.
func startAPI(t *testing.T, engine database.Engine) *api {
	t.Helper()
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR":    "127.0.0.1:0",
		"DATABASE_URL": dbtest.URL(t, engine),
		"LOG_LEVEL":    "error",
	})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpserver.Server
	// fx.New rather than fxtest.New: the service's own zap logger (at LOG_LEVEL=error) keeps
	// fx's event log out of the test output.
	app := fx.New(serveModules(cfg), fx.Populate(&srv))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := app.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})

	// Created after the app, so cleaned up before it stops (cleanups run last-in first-out).
	base := "http://" + srv.Addr().String()
	v := apitest.New(t, apitest.Load(t, "../../openapi.yaml", base))
	client, err := oas.NewClient(base, oas.WithClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &api{base: base, client: client, validator: v}
}
