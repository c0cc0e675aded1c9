// Package apptest is the test kit of modules: it starts the whole application in-process, as
// `userservice serve` does, on a fresh database of any engine and a free port, and gives
// generated clients (platform/oas) whose every request and response is checked against
// openapi.yaml by an independent validator, logged in as a new user or a new admin.
//
// A module's end-to-end test composes the application it needs, its own module and the module
// that owns accounts:
//
//	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) {
//		a := apptest.Start(t, engine, fx.Options(users.Module, notes.Module))
//		alice := a.NewUser(t)
//		res, err := alice.Client.CreateNote(ctx, ...)
//	})
//
// ForEngines runs it on SQLite, PostgreSQL and MongoDB. A test that cannot run on one says so,
// and the run shows it skipped with the reason:
//
//	apptest.ForEngines(t, fn, apptest.SkipEngine(database.MongoDB, "the module has no MongoDB adapter"))
package apptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/acme/userservice/platform/app"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/httpserver"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/password"
)

// Secret signs the tokens of test servers.
const Secret = "test-secret-test-secret-test-secret-0123"

// App is a running application.
type App struct {
	// Base is the server's URL, http://127.0.0.1:port.
	Base string
	// Config is the configuration the application runs with.
	Config config.Config
	// Client is a generated client without credentials; As gives one with.
	Client *oas.Client
	// Validator checks raw traffic against openapi.yaml; use Validator.ResponsesOnly() for
	// requests that are invalid on purpose.
	Validator *Validator
	// DB is the application's database, for what a test must check behind the API.
	DB *database.DB

	admins identity.Admins
}

// Option changes how Start runs the application.
type Option func(*options)

type options struct {
	env  map[string]string
	opts []fx.Option
}

// Env sets a configuration variable, as the environment would.
func Env(name, value string) Option { return func(o *options) { o.env[name] = value } }

// With adds fx options to the application, such as fx.Decorate to replace a logger.
func With(opt fx.Option) Option { return func(o *options) { o.opts = append(o.opts, opt) } }

// Engines are the storage engines the service runs on, every one of which ForEngines tests:
// the SQL engines of dbtest, and MongoDB.
func Engines() []database.Engine { return append(dbtest.Engines(), database.MongoDB) }

// EngineOption changes how ForEngines runs a test.
type EngineOption func(skips map[database.Engine]string)

// SkipEngine makes ForEngines skip the engine, saying why: for a test of what the engine does
// not have, such as a module without an adapter for it. The engine's subtest is still there,
// skipped with the reason, so that the gap shows in every run rather than by omission.
func SkipEngine(engine database.Engine, reason string) EngineOption {
	return func(skips map[database.Engine]string) { skips[engine] = reason }
}

// ForEngines runs fn as a parallel subtest on every storage engine (Engines), except those
// skipped with SkipEngine.
func ForEngines(t *testing.T, fn func(t *testing.T, engine database.Engine), opts ...EngineOption) {
	t.Helper()
	skips := map[database.Engine]string{}
	for _, opt := range opts {
		opt(skips)
	}
	for _, engine := range Engines() {
		t.Run(string(engine), func(t *testing.T) {
			if reason, ok := skips[engine]; ok {
				t.Skipf("SKIPPED: not on %s: %s", engine, reason)
			}
			t.Parallel()
			fn(t, engine)
		})
	}
}

// CheapHashing replaces the production argon2id cost, deliberately slow, for tests that do not
// measure it. Start applies it.
func CheapHashing() fx.Option {
	return fx.Decorate(func(password.Params) password.Params {
		return password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	})
}

// Start starts the application made of the platform and features on a fresh database of the
// engine and a free port, with errors-only logs, cheap password hashing and a fixed JWT
// secret; it stops when the test ends.
func Start(t testing.TB, engine database.Engine, features fx.Option, opts ...Option) *App {
	t.Helper()
	o := options{env: map[string]string{
		"HTTP_ADDR":    "127.0.0.1:0",
		"DATABASE_URL": "",
		"LOG_LEVEL":    "error",
		"JWT_SECRET":   Secret,
	}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.env["DATABASE_URL"] == "" {
		o.env["DATABASE_URL"] = databaseURL(t, engine)
	}
	cfg, err := config.Parse(o.env)
	if err != nil {
		t.Fatal(err)
	}
	var (
		srv    *httpserver.Server
		db     *database.DB
		admins identity.Admins
	)
	// fx.New rather than fxtest.New: the service's own zap logger (at LOG_LEVEL=error) keeps
	// fx's event log out of the test output.
	fxApp := fx.New(app.Serve(cfg, features), CheapHashing(), fx.Options(o.opts...), fx.Populate(&srv, &db),
		// Admins is there when the module owning accounts is.
		fx.Invoke(fx.Annotate(func(a identity.Admins) { admins = a }, fx.ParamTags(`optional:"true"`))))
	if err := fxApp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fxApp.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})

	// Created after the application, so cleaned up before it stops (cleanups run last-in
	// first-out).
	base := "http://" + srv.Addr().String()
	a := &App{Base: base, Config: cfg, Validator: NewValidator(t, LoadSpec(t, SpecPath(t), base)), DB: db, admins: admins}
	a.Client = a.As(t, "")
	return a
}

// databaseURL returns the DATABASE_URL of a fresh database of the engine, dropped when the test
// ends.
func databaseURL(t testing.TB, engine database.Engine) string {
	t.Helper()
	if engine == database.MongoDB {
		_, url := mongotest.Database(t)
		return url
	}
	return dbtest.URL(t, engine)
}

// Launch starts the service outside a test, for a TestMain or an Example: on a fresh SQLite
// file in dir, on a free port, with the settings Start uses. It returns the service's base
// URL and the function that stops it.
func Launch(dir string, features fx.Option) (string, func() error, error) {
	cfg, err := config.Parse(map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(dir, "launch.db"), "LOG_LEVEL": "error", "JWT_SECRET": Secret,
	})
	if err != nil {
		return "", nil, err
	}
	var srv *httpserver.Server
	fxApp := fx.New(app.Serve(cfg, features), CheapHashing(), fx.Populate(&srv), fx.NopLogger)
	if err := fxApp.Start(context.Background()); err != nil {
		return "", nil, err
	}
	return "http://" + srv.Addr().String(), func() error { return fxApp.Stop(context.Background()) }, nil
}

// SpecPath returns the path of the repository's openapi.yaml, found from the test's working
// directory (its package's folder) upwards.
func SpecPath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "openapi.yaml")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// As returns a generated client sending token ("" for none), validated against openapi.yaml.
func (a *App) As(t testing.TB, token string) *oas.Client {
	t.Helper()
	c, err := oas.NewClient(a.Base, oas.StaticToken(token), oas.WithClient(a.Validator.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Login returns an access token for the email and password.
func (a *App) Login(t testing.TB, email, password string) string {
	t.Helper()
	res, err := a.Client.CreateToken(context.Background(), &oas.TokenRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := res.(*oas.Token)
	if !ok {
		t.Fatalf("login %s: %T %+v", email, res, res)
	}
	return tok.AccessToken
}

// User is an account made for a test, logged in.
type User struct {
	ID       uuid.UUID
	Username string
	Email    string
	Password string
	Token    string
	// Client sends the user's token.
	Client *oas.Client
}

// NewUser registers a user with a fresh name through the API and logs them in.
func (a *App) NewUser(t testing.TB) User {
	t.Helper()
	u := newCredentials("user")
	res, err := a.Client.RegisterUser(context.Background(), &oas.RegisterUserRequest{
		Username: u.Username, Email: u.Email, Password: oas.NewOptString(u.Password),
	})
	if err != nil {
		t.Fatal(err)
	}
	created, ok := res.(*oas.UserHeaders)
	if !ok {
		t.Fatalf("register %s: %T %+v", u.Username, res, res)
	}
	u.ID = created.Response.UserID
	return a.logIn(t, u)
}

// NewAdmin creates an admin with the users module's identity.Admins (as the admin command
// does: the API cannot make admins) and logs them in.
func (a *App) NewAdmin(t testing.TB) User {
	t.Helper()
	if a.admins == nil {
		t.Fatal("apptest: no module provides identity.Admins; compose the module that owns accounts")
	}
	u := newCredentials("admin")
	c, err := a.admins.CreateAdmin(context.Background(), u.Username, u.Email, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	u.ID = c.ID
	return a.logIn(t, u)
}

func (a *App) logIn(t testing.TB, u User) User {
	t.Helper()
	u.Token = a.Login(t, u.Email, u.Password)
	u.Client = a.As(t, u.Token)
	return u
}

func newCredentials(prefix string) User {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + "_" + hex.EncodeToString(b)
	return User{Username: name, Email: name + "@example.com", Password: "password of " + name}
}

// Raw sends a request with an optional bearer token and JSON body, and returns the status,
// headers and body; only the response is checked against openapi.yaml, so the request may be
// invalid on purpose.
func (a *App) Raw(t testing.TB, method, path, token, body string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.Base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.Validator.ResponsesOnly().Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
