package main

import (
	"context"

	"github.com/google/uuid"
	"github.com/ogen-go/ogen/ogenerrors"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/platform/apitest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/health"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/password"
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
		{"migrate and admin", fx.Options(toolModules(cfg), fx.Invoke(func(*database.Migrator, *users.Admins) {}))},
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
	err := fx.ValidateApp(platformModules(cfg), httpserver.Module, health.Module)
	// The users module provides the Users operation group and the API's authentication; the
	// first one fx misses is named.
	if err == nil || !strings.Contains(err.Error(), "missing type: oas.") {
		t.Fatalf("want a missing oas handler, got %v", err)
	}
}

// api is a running service and clients for it.
type api struct {
	base string
	cfg  config.Config
	// client is the generated client without credentials; as(token) gives one with. Their
	// traffic is checked against openapi.yaml.
	client *oas.Client
	// validator checks raw traffic; use validator.ResponsesOnly() for deliberately bad requests.
	validator *apitest.Validator
}

// cheapHashing replaces the production argon2id cost, which is deliberately slow, in tests
// that do not measure it.
func cheapHashing() fx.Option {
	return fx.Decorate(func(password.Params) password.Params {
		return password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	})
}

// testSecret signs the tokens of test servers.
const testSecret = "test-secret-test-secret-test-secret-0123"

// startAPI starts the whole application, as `serve` does, on a fresh database of the engine
// and a free port; it stops when the test ends. env overrides configuration.
func startAPI(t *testing.T, engine database.Engine, env ...string) *api {
	t.Helper()
	return startAPIWith(t, engine, fx.Options(), env...)
}

// fxDecorateLogger makes the application log to log.
func fxDecorateLogger(log *zap.Logger) fx.Option {
	return fx.Decorate(func(*zap.Logger) *zap.Logger { return log })
}

// startAPIWith is startAPI with extra fx options (decorations).
func startAPIWith(t *testing.T, engine database.Engine, opt fx.Option, env ...string) *api {
	t.Helper()
	vars := map[string]string{
		"HTTP_ADDR":    "127.0.0.1:0",
		"DATABASE_URL": dbtest.URL(t, engine),
		"LOG_LEVEL":    "error",
		"JWT_SECRET":   testSecret,
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpserver.Server
	// fx.New rather than fxtest.New: the service's own zap logger (at LOG_LEVEL=error) keeps
	// fx's event log out of the test output.
	app := fx.New(serveModules(cfg), cheapHashing(), opt, fx.Populate(&srv))
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
	a := &api{base: base, cfg: cfg, validator: v}
	a.client = a.as(t, "")
	return a
}

// bearer is a client security source with a fixed token; "" sends none.
type bearer string

func (b bearer) BearerAuth(context.Context, oas.OperationName) (oas.BearerAuth, error) {
	if b == "" {
		return oas.BearerAuth{}, ogenerrors.ErrSkipClientSecurity
	}
	return oas.BearerAuth{Token: string(b)}, nil
}

// as returns a generated client that sends token.
func (a *api) as(t *testing.T, token string) *oas.Client {
	t.Helper()
	c, err := oas.NewClient(a.base, bearer(token), oas.WithClient(a.validator.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login returns a token for the email and password.
func (a *api) login(t *testing.T, email, password string) string {
	t.Helper()
	res, err := a.client.CreateToken(context.Background(), &oas.TokenRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := res.(*oas.Token)
	if !ok {
		t.Fatalf("login %s: %T %+v", email, res, res)
	}
	return tok.AccessToken
}

// adminToken creates an admin with the admin CLI's code and returns a token of theirs.
func (a *api) adminToken(t *testing.T) string {
	t.Helper()
	name := "admin_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := createAdmin(context.Background(), a.cfg, name, name+"@example.com", "admin password"); err != nil {
		t.Fatal(err)
	}
	return a.login(t, name+"@example.com", "admin password")
}

// admin returns a client logged in as a new admin.
func (a *api) admin(t *testing.T) *oas.Client {
	t.Helper()
	return a.as(t, a.adminToken(t))
}
