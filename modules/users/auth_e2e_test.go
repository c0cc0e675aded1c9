package users_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/token"
)

// TestWeakPasswordsAreRefused: wherever a password is set over HTTP (registration, a change),
// one of white space alone or on the list of common passwords is refused with a 422 naming
// the field and the rule (NIST SP 800-63B), on every engine; the account keeps its password.
func TestWeakPasswordsAreRefused(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		u := a.NewUser(t)
		weak := []struct{ password, message string }{
			{"        ", "must not be only whitespace"},
			{"\t \u00a0 \u2003 \n \r ", "must not be only whitespace"},
			{"password", "is a commonly used password"},
			{"Sunshine1", "is a commonly used password"},
			{" iloveyou ", "is a commonly used password"},
		}
		for i, w := range weak {
			pw, _ := json.Marshal(w.password)
			for _, c := range []struct{ path, token, body, field string }{
				{"/users", "", fmt.Sprintf(`{"username":"weak_%d","email":"weak%d@example.com","password":%s}`, i, i, pw), "password"},
				{"/users/me/password", u.Token, `{"current_password":"` + u.Password + `","new_password":` + string(pw) + `}`, "new_password"},
			} {
				status, _, body := a.Raw(t, "POST", c.path, c.token, c.body)
				var p oas.Problem
				_ = json.Unmarshal([]byte(body), &p)
				if status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != c.field || p.Errors[0].Message != w.message {
					t.Errorf("POST %s with %q: %d %s; want 422 %s %s", c.path, w.password, status, body, c.field, w.message)
				}
			}
		}
		a.Login(t, u.Email, u.Password) // unchanged, and no session was ended by a refused change
		if res, err := u.Client.GetMe(ctx); err != nil || isStatus(res, http.StatusUnauthorized) {
			t.Fatalf("the session after refused changes: %T %v", res, err)
		}
	})
}

// forged returns token with its payload replaced, keeping the header and signature.
func forged(t *testing.T, token string, mutate func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	mutate(claims)
	b, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		u := a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
		tok := a.Login(t, "alice@example.com", "alice's password")

		algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			strings.Split(forged(t, tok, func(c map[string]any) { c["role"] = "admin" }), ".")[1] + "."
		tests := []struct {
			name, token string
		}{
			{"no token", ""},
			{"garbage", "not-a-jwt"},
			{"tampered payload", forged(t, tok, func(c map[string]any) { c["role"] = "admin" })},
			{"other subject", forged(t, tok, func(c map[string]any) { c["sub"] = "3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10" })},
			{"alg none", algNone},
			{"tampered signature", tok[:len(tok)-4] + "AAAA"},
		}
		for _, tc := range tests {
			status, h, body := a.Raw(t, "GET", "/users/me", tc.token, "")
			if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "Bearer" || !strings.Contains(body, `"status":401`) {
				t.Errorf("%s: %d %q %s", tc.name, status, h.Get("WWW-Authenticate"), body)
			}
		}
		status, h, body := a.Raw(t, "GET", "/users/me", tok, "")
		if status != http.StatusOK || !strings.Contains(body, u.UserID.String()) {
			t.Fatalf("valid token: %d %s", status, body)
		}
		for _, name := range []string{"X-Content-Type-Options", "Cache-Control", "Content-Security-Policy"} {
			if h.Get(name) == "" {
				t.Errorf("missing %s", name)
			}
		}
		if strings.Contains(body, "argon2") || strings.Contains(body, "password") {
			t.Fatalf("a response carries a password or hash: %s", body)
		}
	})
}

// TestExpiredToken: an access token works for its whole lifetime (JWT_TTL) and not after. The
// tokens are signed and verified on a clock the test moves, rather than waiting for the real
// one.
func TestExpiredToken(t *testing.T) {
	t.Parallel()
	clock := &manualClock{now: time.Now()}
	a := startAPI(t, database.SQLite, apptest.With(fx.Decorate(func(_ *token.Signer, cfg config.Config) (*token.Signer, error) {
		return token.New([]byte(cfg.JWTSecret), cfg.JWTTTL, clock.Now)
	})))
	a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
	tok := a.Login(t, "alice@example.com", "alice's password")
	// JWT times have one-second resolution: a second either side of the expiry is past any
	// rounding.
	steps := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"fresh", 0, http.StatusOK},
		{"a second before its expiry", a.Config.JWTTTL - time.Second, http.StatusOK},
		{"a second after its expiry", 2 * time.Second, http.StatusUnauthorized},
	}
	for _, s := range steps {
		clock.advance(s.advance)
		status, h, _ := a.Raw(t, "GET", "/users/me", tok, "")
		if status != s.want || (status == http.StatusUnauthorized && h.Get("WWW-Authenticate") != "Bearer") {
			t.Fatalf("a token %s: %d %q; want %d", s.name, status, h.Get("WWW-Authenticate"), s.want)
		}
	}
}

// manualClock tells the time it is set to.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
		a.register(t, "nopass", "nopass@example.com")
		gone := a.registerWithPassword(t, "gone", "gone@example.com", "gone's password")
		if _, err := a.NewAdmin(t).Client.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: gone.UserID}); err != nil {
			t.Fatal(err)
		}
		var first string
		for _, creds := range [][2]string{
			{"nobody@example.com", "whatever password"},
			{"alice@example.com", "wrong password"},
			{"nopass@example.com", "whatever password"},
			{"gone@example.com", "gone's password"},
		} {
			body, _ := json.Marshal(map[string]string{"email": creds[0], "password": creds[1]})
			status, h, resp := a.Raw(t, "POST", "/auth/token", "", string(body))
			if status != http.StatusUnauthorized || h.Get("Cache-Control") != "no-store" || h.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("%s: %d %v %s", creds[0], status, h, resp)
			}
			// The same answer but for the request's own id.
			resp = strings.Replace(resp, h.Get("X-Request-Id"), "…", 1)
			if first == "" {
				first = resp
			} else if resp != first {
				t.Errorf("%s answers %s, others %s", creds[0], resp, first)
			}
		}
	})
}

func TestAuthorizationOverHTTP(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		alice := a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
		bob := a.registerWithPassword(t, "bob", "bob@example.com", "bob's password")
		at := a.Login(t, "alice@example.com", "alice's password")
		bobPath := "/users/" + bob.UserID.String()
		alicePath := "/users/" + alice.UserID.String()
		tests := []struct {
			name, method, path, body string
			status                   int
		}{
			{"read another user (IDOR)", "GET", bobPath, "", 403},
			{"change another user", "PATCH", bobPath, `{"username":"hacked"}`, 403},
			{"deactivate another user", "POST", bobPath + "/deactivate", "", 403},
			{"delete another user", "DELETE", bobPath, "", 403},
			{"list users", "GET", "/users", "", 403},
			{"activate yourself", "POST", alicePath + "/activate", "", 403},
			{"promote yourself", "PATCH", alicePath, `{"role":"admin"}`, 403},
			{"read yourself", "GET", alicePath, "", 200},
			{"rename yourself", "PATCH", alicePath, `{"username":"alicia"}`, 200},
		}
		for _, tc := range tests {
			status, _, body := a.Raw(t, tc.method, tc.path, at, tc.body)
			if status != tc.status {
				t.Errorf("%s: %d %s", tc.name, status, body)
			}
		}
		admin := a.NewAdmin(t).Client
		got, err := admin.GetUser(ctx, oas.GetUserParams{UserID: bob.UserID})
		if err != nil || got.(*oas.User).Username != "bob" || !got.(*oas.User).IsActive {
			t.Fatalf("bob was changed: %+v %v", got, err)
		}
		me, _ := a.As(t, at).GetMe(ctx)
		if me.(*oas.User).Role != oas.RoleUser {
			t.Fatal("alice escalated to admin")
		}
		res, err := admin.UpdateUser(ctx, &oas.UpdateUserRequest{Role: oas.NewOptRole(oas.RoleAdmin)}, oas.UpdateUserParams{UserID: alice.UserID})
		if err != nil || res.(*oas.User).Role != oas.RoleAdmin {
			t.Fatalf("an admin promotes: %+v %v", res, err)
		}
		// The role is read per request: alice's old token now lists users.
		if status, _, _ := a.Raw(t, "GET", "/users", at, ""); status != http.StatusOK {
			t.Fatalf("promoted token: %d", status)
		}
	})
}

func TestChangePasswordOverHTTP(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite)
	a.registerWithPassword(t, "alice", "alice@example.com", "old password")
	tok := a.Login(t, "alice@example.com", "old password")
	if status, _, body := a.Raw(t, "POST", "/users/me/password", tok, `{"current_password":"nope nope","new_password":"new password"}`); status != http.StatusForbidden {
		t.Fatalf("wrong current password: %d %s", status, body)
	}
	if status, _, body := a.Raw(t, "POST", "/users/me/password", tok, `{"current_password":"old password","new_password":"new password"}`); status != http.StatusNoContent {
		t.Fatalf("change: %d %s", status, body)
	}
	a.Login(t, "alice@example.com", "new password")
}

func TestLoginThrottlingOverHTTP(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite, apptest.Env("LOGIN_MAX_FAILURES", "3"))
	a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
	for range 3 {
		if status, _, _ := a.Raw(t, "POST", "/auth/token", "", `{"email":"alice@example.com","password":"wrong"}`); status != http.StatusUnauthorized {
			t.Fatalf("failure: %d", status)
		}
	}
	status, h, body := a.Raw(t, "POST", "/auth/token", "", `{"email":"alice@example.com","password":"alice's password"}`)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, `"status":429`) {
		t.Fatalf("throttled: %d %q %s", status, h.Get("Retry-After"), body)
	}
}

// TestNoSecretsInLogs runs the whole authentication story with every log line captured at
// debug level and fails if a password, a hash or a token appears in any of them.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	a := startAPI(t, database.SQLite, apptest.With(fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(core) })))
	const pw = "very secret password"
	a.registerWithPassword(t, "alice", "alice@example.com", pw)
	tok := a.Login(t, "alice@example.com", pw)
	a.Raw(t, "GET", "/users/me", tok, "")
	a.Raw(t, "POST", "/auth/token", "", `{"email":"alice@example.com","password":"wrong secret"}`)
	a.Raw(t, "POST", "/users/me/password", tok, `{"current_password":"`+pw+`","new_password":"another secret pw"}`)
	a.Raw(t, "GET", "/users/me", forged(t, tok, func(c map[string]any) { c["role"] = "admin" }), "")

	var hash string
	db, err := database.Open(context.Background(), database.Options{URL: a.Config.DatabaseURL})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.SQL.QueryRow("SELECT password_hash FROM users WHERE email = 'alice@example.com'").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	secrets := []string{pw, "wrong secret", "another secret pw", tok, strings.Split(tok, ".")[2], hash, strings.Split(hash, "$")[5]}
	if logs.Len() < 5 {
		t.Fatalf("only %d log lines captured", logs.Len())
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(map[string]any{"msg": e.Message, "fields": e.ContextMap()})
		for _, s := range secrets {
			if strings.Contains(string(line), s) {
				t.Errorf("a log line carries a secret: %s", line)
			}
		}
	}
}
