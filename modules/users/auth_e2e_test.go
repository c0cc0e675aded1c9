package users_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/throttle/redistest"
)

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

func TestExpiredToken(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite, apptest.Env("JWT_TTL", "1s"))
	a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
	tok := a.Login(t, "alice@example.com", "alice's password")
	if status, _, _ := a.Raw(t, "GET", "/users/me", tok, ""); status != http.StatusOK {
		t.Fatalf("fresh token: %d", status)
	}
	// JWT times have one-second resolution: two seconds is past any rounding.
	time.Sleep(2100 * time.Millisecond)
	if status, h, _ := a.Raw(t, "GET", "/users/me", tok, ""); status != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("expired token: %d", status)
	}
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

// is reports whether v is a T.
func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// TestSprayingAnAccountLocksNobodyOutOverHTTP: an attacker guessing one account's password
// from many addresses is throttled (429 with Retry-After) once the account is under back-off,
// each address below its own limit, while the owner's right password from an address that has
// not failed logs in; on every engine, with the throttle in the instance and in Redis.
func TestSprayingAnAccountLocksNobodyOutOverHTTP(t *testing.T) {
	t.Parallel()
	throttles := []struct {
		name string
		opts func(t *testing.T) []apptest.Option
	}{
		{"memory", func(*testing.T) []apptest.Option { return nil }},
		{"redis", func(t *testing.T) []apptest.Option {
			return []apptest.Option{apptest.Env("REDIS_URL", redistest.Start(t).URL())}
		}},
	}
	for _, th := range throttles {
		t.Run(th.name, func(t *testing.T) {
			t.Parallel()
			opts := func(t *testing.T) []apptest.Option {
				return append(th.opts(t), apptest.Env("LOGIN_MAX_FAILURES", "3"), apptest.Env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "4"))
			}
			forEngineWith(t, opts, func(t *testing.T, a *api) {
				a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
				login := func(from, password string) oas.CreateTokenRes {
					t.Helper()
					res, err := a.From(t, from).CreateToken(ctx, &oas.TokenRequest{Email: "alice@example.com", Password: password})
					if err != nil {
						t.Fatal(err)
					}
					return res
				}
				attackers := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}
				for _, from := range attackers {
					if got := login(from, "a guess"); !is[*oas.UnauthorizedHeaders](got) {
						t.Fatalf("the first guess from %s: %T %+v", from, got, got)
					}
				}
				for _, from := range attackers {
					got := login(from, "another guess")
					if res, ok := got.(*oas.TooManyRequestsHeaders); !ok || res.RetryAfter.Or(0) < 1 || res.Response.Status != http.StatusTooManyRequests {
						t.Fatalf("the second guess from %s, under back-off: %T %+v", from, got, got)
					}
				}
				if got := login("127.0.0.9", "alice's password"); !is[*oas.Token](got) {
					t.Fatalf("the owner, from an address that has not failed: %T %+v", got, got)
				}
			})
		})
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
	defer db.Close()
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
