package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/oas"
)

// The end-to-end tests drive the real server over HTTP with the generated client, on every
// engine, while apitest holds each request and response to openapi.yaml.

// api is the users module in the whole application, started for a test with the platform's
// test kit.
type api struct{ *apptest.App }

// startAPI starts the application with the users module on a fresh database of the engine.
func startAPI(t *testing.T, engine database.Engine, opts ...apptest.Option) *api {
	t.Helper()
	return &api{apptest.Start(t, engine, users.Module, opts...)}
}

// forEngine runs fn on every engine, in parallel: the SQL engines, and MongoDB, which the
// users module (alone of the modules) has an adapter for.
func forEngine(t *testing.T, fn func(t *testing.T, a *api)) {
	t.Helper()
	forEngineWith(t, func(*testing.T) []apptest.Option { return nil }, fn)
}

// forEngineWith is forEngine with the options opts gives each engine's subtest.
func forEngineWith(t *testing.T, opts func(t *testing.T) []apptest.Option, fn func(t *testing.T, a *api)) {
	t.Helper()
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) { fn(t, startAPI(t, engine, opts(t)...)) })
	t.Run(string(database.MongoDB), func(t *testing.T) {
		t.Parallel()
		_, url := mongotest.Database(t)
		fn(t, startAPI(t, database.MongoDB, append(opts(t), apptest.Env("DATABASE_URL", url))...))
	})
}

var ctx = context.Background()

func (a *api) register(t *testing.T, username, email string) *oas.User {
	t.Helper()
	return a.registerWithPassword(t, username, email, "")
}

func (a *api) registerWithPassword(t *testing.T, username, email, password string) *oas.User {
	t.Helper()
	req := &oas.RegisterUserRequest{Username: oas.Username(username), Email: oas.Email(email)}
	if password != "" {
		req.Password = oas.NewOptPassword(oas.Password(password))
	}
	res, err := a.Client.RegisterUser(ctx, req)
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	created, ok := res.(*oas.UserHeaders)
	if !ok {
		t.Fatalf("register %s: got %T", username, res)
	}
	if created.Location != "/users/"+created.Response.UserID.String() {
		t.Fatalf("Location %q for %s", created.Location, created.Response.UserID)
	}
	return &created.Response
}

func TestTutorialSession(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		health, err := a.Client.GetHealth(ctx)
		if err != nil || health.Status != oas.HealthStatusHealthy {
			t.Fatalf("health: %+v %v", health, err)
		}
		u := a.registerWithPassword(t, "john_doe", "john@example.com", "john's password")
		if !u.IsActive || u.Role != oas.RoleUser || u.Username != "john_doe" {
			t.Fatalf("registered %+v", u)
		}

		res, err := a.Client.RegisterUser(ctx, &oas.RegisterUserRequest{Username: "jane", Email: "JOHN@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		conflict, ok := res.(*oas.RegisterUserConflict)
		if !ok || conflict.Status != http.StatusConflict || conflict.Detail != "User with email JOHN@example.com already exists" {
			t.Fatalf("duplicate: %T %+v", res, res)
		}

		johnToken := a.Login(t, "john@example.com", "john's password")
		john := a.As(t, johnToken)
		me, err := john.GetMe(ctx)
		if err != nil || me.(*oas.User).UserID != u.UserID {
			t.Fatalf("me: %+v %v", me, err)
		}
		deact, err := john.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: u.UserID})
		if err != nil || deact.(*oas.User).IsActive {
			t.Fatalf("deactivate yourself: %+v %v", deact, err)
		}
		if res, err := john.GetMe(ctx); err != nil || !isStatus(res, http.StatusUnauthorized) {
			t.Fatalf("a deactivated user's token must stop working: %T %v", res, err)
		}
		// GET /users/{id} checks its caller in the statement that reads the user: same answer.
		if res, err := john.GetUser(ctx, oas.GetUserParams{UserID: u.UserID}); err != nil || !isStatus(res, http.StatusUnauthorized) {
			t.Fatalf("a deactivated user reads: %T %v", res, err)
		}
		// The account is checked after the request is validated (docs/api.md, Authentication).
		if status, _, body := a.Raw(t, "GET", "/users/not-a-uuid", johnToken, ""); status != http.StatusBadRequest {
			t.Fatalf("a deactivated user's malformed request: %d %s", status, body)
		}

		admin := a.NewAdmin(t).Client
		again, err := admin.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: u.UserID})
		if err != nil || again.(*oas.User).IsActive {
			t.Fatalf("deactivate again (idempotent): %+v %v", again, err)
		}
		act, err := admin.ActivateUser(ctx, oas.ActivateUserParams{UserID: u.UserID})
		if err != nil || !act.(*oas.User).IsActive {
			t.Fatalf("activate: %+v %v", act, err)
		}

		missing := uuid.New()
		res2, err := admin.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: missing})
		if err != nil {
			t.Fatal(err)
		}
		if nf, ok := res2.(*oas.DeactivateUserNotFound); !ok || nf.Detail != fmt.Sprintf("User %s not found", missing) {
			t.Fatalf("deactivate missing: %T %+v", res2, res2)
		}
	})
}

// isStatus reports whether res is a problem response with the status. ogen gives each error
// response its own type: a Problem, or a struct with headers around one (Response).
func isStatus(res any, status int) bool {
	v := reflect.ValueOf(res)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	v = v.Elem()
	if r := v.FieldByName("Response"); r.IsValid() && r.Kind() == reflect.Struct {
		v = r
	}
	f := v.FieldByName("Status")
	return f.IsValid() && f.Kind() == reflect.Int && int(f.Int()) == status
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admin := a.NewAdmin(t).Client
		me, err := admin.GetMe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []uuid.UUID{me.(*oas.User).UserID}
		for i := range 5 {
			want = append(want, a.register(t, fmt.Sprintf("user_%d", i), fmt.Sprintf("u%d@example.com", i)).UserID)
		}
		if _, err := admin.DeactivateUser(ctx, oas.DeactivateUserParams{UserID: want[1]}); err != nil {
			t.Fatal(err)
		}
		var got []uuid.UUID
		params := oas.ListUsersParams{Limit: oas.NewOptInt(2)}
		for pages := 1; ; pages++ {
			res, err := admin.ListUsers(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			page := res.(*oas.UserPage)
			for _, u := range page.Items {
				got = append(got, u.UserID)
			}
			cursor, ok := page.NextCursor.Get()
			if !ok {
				if pages != 3 {
					t.Fatalf("%d pages, want 3", pages)
				}
				break
			}
			params.Cursor = oas.NewOptString(cursor)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", got, want)
		}

		res, err := admin.ListUsers(ctx, oas.ListUsersParams{IsActive: oas.NewOptBool(false)})
		if err != nil {
			t.Fatal(err)
		}
		if page := res.(*oas.UserPage); len(page.Items) != 1 || page.Items[0].UserID != want[1] || !page.NextCursor.IsNull() {
			t.Fatalf("inactive users: %+v", page)
		}
	})
}

func TestUpdateAndDelete(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admin := a.NewAdmin(t).Client
		alice := a.register(t, "alice", "alice@example.com")
		bob := a.register(t, "bob", "bob@example.com")

		res, err := admin.UpdateUser(ctx, &oas.UpdateUserRequest{Email: oas.NewOptEmail("bobby@example.com")},
			oas.UpdateUserParams{UserID: bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if u := res.(*oas.User); u.Email != "bobby@example.com" || u.Username != "bob" {
			t.Fatalf("updated %+v", u)
		}
		res, err = admin.UpdateUser(ctx, &oas.UpdateUserRequest{}, oas.UpdateUserParams{UserID: bob.UserID})
		if err != nil || res.(*oas.User).Email != "bobby@example.com" {
			t.Fatalf("empty update: %+v %v", res, err)
		}
		res, err = admin.UpdateUser(ctx, &oas.UpdateUserRequest{Username: oas.NewOptUsername("ALICE")},
			oas.UpdateUserParams{UserID: bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := res.(*oas.UpdateUserConflict); !ok || c.Detail != "User with username ALICE already exists" {
			t.Fatalf("taken username: %T %+v", res, res)
		}
		res, err = admin.UpdateUser(ctx, &oas.UpdateUserRequest{Username: oas.NewOptUsername("nobody")},
			oas.UpdateUserParams{UserID: uuid.New()})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := res.(*oas.UpdateUserNotFound); !ok {
			t.Fatalf("update missing: %T", res)
		}

		del, err := admin.DeleteUser(ctx, oas.DeleteUserParams{UserID: alice.UserID})
		if _, ok := del.(*oas.DeleteUserNoContent); err != nil || !ok {
			t.Fatalf("delete: %T %v", del, err)
		}
		for _, check := range []func() (any, error){
			func() (any, error) { return admin.GetUser(ctx, oas.GetUserParams{UserID: alice.UserID}) },
			func() (any, error) { return admin.DeleteUser(ctx, oas.DeleteUserParams{UserID: alice.UserID}) },
		} {
			res, err := check()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(fmt.Sprintf("%T", res), "NotFound") {
				t.Fatalf("after delete: %T", res)
			}
		}
	})
}

// TestBadInput sends what a careless or hostile client sends. Every answer must be a 4xx
// problem that says what is wrong (and the responses must still match openapi.yaml).
func TestBadInput(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		u := a.register(t, "john_doe", "john@example.com")
		userPath := "/users/" + u.UserID.String()
		token := a.NewAdmin(t).Token
		admin := a.As(t, token)
		big := `{"username":"` + strings.Repeat("a", 1<<20) + `","email":"x@example.com"}`
		tests := []struct {
			name, method, path, contentType, body string
			chunked                               bool
			status                                int
			field                                 string // a field the problem must name, if any
			says                                  string // what the detail must say, if anything
		}{
			{"malformed JSON", "POST", "/users", "application/json", `{"username":`, false, 400, "body", "body: is not valid JSON (it ends before the value does)"},
			{"not an object", "POST", "/users", "application/json", `[1,2]`, false, 400, "body", "body: must be a JSON object"},
			{"stray comma", "POST", "/users", "application/json", `{"username":"abc",}`, false, 400, "body", "body: is not valid JSON (unexpected } at byte 18)"},
			{"empty body", "POST", "/users", "application/json", ``, false, 400, "body", "body: is required"},
			{"unknown field", "POST", "/users", "application/json", `{"username":"abc","email":"a@b.co","admin":true}`, false, 400, "admin", "admin: is not a field of this request"},
			{"missing field", "POST", "/users", "application/json", `{"username":"abc"}`, false, 400, "email", "email: is required"},
			{"wrong type", "POST", "/users", "application/json", `{"username":5,"email":"a@b.co"}`, false, 400, "username", "username: must be a string"},
			{"number for a string", "POST", "/users", "application/json", `{"username":"abc","email":1}`, false, 400, "email", "email: must be a string"},
			{"null for a string", "POST", "/users", "application/json", `{"username":"abc","email":null}`, false, 400, "email", "email: must be a string"},
			{"short username", "POST", "/users", "application/json", `{"username":"ab","email":"a@b.co"}`, false, 400, "username", "username: must be at least 3 characters long"},
			{"bad username chars", "POST", "/users", "application/json", `{"username":"a b c","email":"a@b.co"}`, false, 400, "username", "username: must be letters, digits and underscores"},
			{"bad email", "POST", "/users", "application/json", `{"username":"abc","email":"nope"}`, false, 400, "email", "email: must be an email address"},
			{"role is not settable", "POST", "/users", "application/json", `{"username":"abc","email":"a@b.co","role":"admin"}`, false, 400, "role", ""},
			{"oversized body", "POST", "/users", "application/json", big, false, 413, "", ""},
			{"oversized chunked body", "POST", "/users", "application/json", big, true, 413, "", ""},
			{"wrong content type", "POST", "/users", "text/plain", `{"username":"abc","email":"a@b.co"}`, false, 415, "", "Content-Type: application/json"},
			{"no content type", "POST", "/users", "", `{"username":"abc","email":"a@b.co"}`, false, 415, "", "Content-Type: application/json"},
			{"bad uuid", "GET", "/users/not-a-uuid", "", "", false, 400, "user_id", "user_id: must be a UUID"},
			{"uuid without dashes", "GET", "/users/00000000000040008000000000000000", "", "", false, 400, "user_id", "user_id: must be a UUID"},
			{"uuid in braces", "GET", "/users/%7B00000000-0000-4000-8000-000000000000%7D", "", "", false, 400, "user_id", "user_id: must be a UUID"},
			{"uuid as a urn", "GET", "/users/urn:uuid:00000000-0000-4000-8000-000000000000", "", "", false, 400, "user_id", "user_id: must be a UUID"},
			{"bad uuid on deactivate", "POST", "/users/123/deactivate", "", "", false, 400, "user_id", "user_id: must be a UUID"},
			{"limit zero", "GET", "/users?limit=0", "", "", false, 400, "limit", "limit: must be at least 1"},
			{"limit too big", "GET", "/users?limit=101", "", "", false, 400, "limit", "limit: must be at most 100"},
			{"limit not a number", "GET", "/users?limit=ten", "", "", false, 400, "limit", "limit: must be an integer"},
			{"limit with a plus", "GET", "/users?limit=%2B5", "", "", false, 400, "limit", "limit: must be an integer"},
			{"limit with a leading zero", "GET", "/users?limit=05", "", "", false, 400, "limit", "limit: must be an integer"},
			{"bad cursor", "GET", "/users?cursor=bogus", "", "", false, 400, "cursor", ""},
			{"cursor of base64 garbage", "GET", "/users?cursor=YWJjfHh5eg", "", "", false, 400, "cursor", "use the next_cursor of a previous page"},
			{"bad is_active", "GET", "/users?is_active=maybe", "", "", false, 400, "is_active", "is_active: must be true or false"},
			{"is_active=1", "GET", "/users?is_active=1", "", "", false, 400, "is_active", "is_active: must be true or false"},
			{"is_active=T", "GET", "/users?is_active=T", "", "", false, 400, "is_active", "is_active: must be true or false"},
			{"patch unknown field", "PATCH", userPath, "application/json", `{"admin":true}`, false, 400, "admin", ""},
			{"patch bad role", "PATCH", userPath, "application/json", `{"role":"root"}`, false, 400, "role", "role: must be one of user, admin"},
			{"short password", "POST", "/users", "application/json", `{"username":"abc","email":"a@b.co","password":"short"}`, false, 400, "password", "password: must be at least 8 characters long"},
			{"long password", "POST", "/users", "application/json", `{"username":"abc","email":"a@b.co","password":"` + strings.Repeat("p", 129) + `"}`, false, 400, "password", "password: must be at most 128 characters long"},
			{"patch bad email", "PATCH", userPath, "application/json", `{"email":"x"}`, false, 400, "email", ""},
			{"patch null", "PATCH", userPath, "application/json", `{"email":null}`, false, 400, "email", "email: must be a string"},
			{"unknown route", "GET", "/nope", "", "", false, 404, "", ""},
			{"unknown user", "GET", "/users/00000000-0000-4000-8000-000000000000", "", "", false, 404, "", ""},
			{"wrong method", "PUT", "/users", "application/json", `{}`, false, 405, "", ""},
			{"wrong method on user", "POST", userPath, "", "", false, 405, "", ""},
			{"taken email", "POST", "/users", "application/json", `{"username":"other","email":"john@example.com"}`, false, 409, "", ""},
			{"NUL in a login's email", "POST", "/auth/token", "application/json", `{"email":"a\u0000b@example.com","password":"whatever1"}`, false, 400, "email", "email: must not hold"},
			{"NUL in a password", "POST", "/auth/token", "application/json", `{"email":"john@example.com","password":"what\u0000ever"}`, false, 400, "password", "password: must not hold"},
			{"NUL in a nested place", "POST", "/auth/token", "application/json", `{"email":"john@example.com","password":"whatever1","x":[{"y":"\u0000"}]}`, false, 400, "x[0].y", "x[0].y: must not hold a NUL character"},
			{"half a surrogate pair is U+FFFD, text", "POST", "/auth/token", "application/json", `{"email":"a\ud800b@example.com","password":"whatever1"}`, false, 401, "", ""},
			{"invalid UTF-8 in a login's email", "POST", "/auth/token", "application/json", "{\"email\":\"a\xffb@example.com\",\"password\":\"whatever1\"}", false, 400, "email", ""},
			{"NUL in a query", "GET", "/users?cursor=a%00b", "", "", false, 400, "cursor", "cursor: must not hold"},
			{"not UTF-8 in a query", "GET", "/users?cursor=a%FFb", "", "", false, 400, "cursor", "cursor: must be valid UTF-8"},
			{"a backslash before u0000 is no NUL", "POST", "/auth/token", "application/json", `{"email":"john@example.com","password":"what\\u0000ever"}`, false, 401, "", ""},
		}
		client := a.Validator.ResponsesOnly().Client()
		for _, tc := range tests {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			req, _ := http.NewRequest(tc.method, a.Base+tc.path, body)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			// As an admin, so that each request reaches the check it is about.
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var p struct {
				Type, Title, Detail, Instance string
				RequestID                     string `json:"request_id"`
				Status                        int
				Errors                        []struct{ Field, Message string }
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Errorf("%s: body %q: %v", tc.name, raw, err)
				continue
			}
			if resp.StatusCode != tc.status || p.Status != tc.status || p.Title == "" || p.Detail == "" ||
				resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: got %d %s %s, want %d problem+json", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), raw, tc.status)
				continue
			}
			if tc.field != "" && !namesField(p.Errors, p.Detail, tc.field) {
				t.Errorf("%s: problem does not name %q: %s", tc.name, tc.field, raw)
			}
			if !strings.Contains(p.Detail, tc.says) {
				t.Errorf("%s: detail %q does not say %q", tc.name, p.Detail, tc.says)
			}
			// Every problem has the same members: where it happened and which request it was.
			path, _, _ := strings.Cut(tc.path, "?")
			if path, _ = url.PathUnescape(path); p.Instance != path ||
				p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") || p.Type == "" {
				t.Errorf("%s: instance %q, request_id %q (X-Request-Id %q), type %q", tc.name, p.Instance, p.RequestID, resp.Header.Get("X-Request-Id"), p.Type)
			}
			// No generator's internals: ogen's and jx's wording, regular expressions.
			for _, leak := range []string{"alias:", "unexpected byte", "decode ", "regex", "mime:", "strconv", "^["} {
				if strings.Contains(string(raw), leak) {
					t.Errorf("%s: the problem leaks %q: %s", tc.name, leak, raw)
				}
			}
		}
		// The problems of authentication and authorization have the same members.
		for _, c := range []struct {
			token  string
			status int
		}{{"", http.StatusUnauthorized}, {"not-a-token", http.StatusUnauthorized}, {a.NewUser(t).Token, http.StatusForbidden}} {
			status, h, raw := a.Raw(t, "GET", "/users", c.token, "")
			var p struct {
				Instance  string
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(raw), &p); err != nil || status != c.status || p.Instance != "/users" || p.RequestID != h.Get("X-Request-Id") {
				t.Errorf("GET /users with %q: %d %s (%v)", c.token, status, raw, err)
			}
			if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("a 401 without WWW-Authenticate: %v", h)
			}
		}
		// Nothing above changed the stored user.
		got, err := admin.GetUser(ctx, oas.GetUserParams{UserID: u.UserID})
		if err != nil || *got.(*oas.User) != *u {
			t.Fatalf("user changed by bad requests: %+v %v", got, err)
		}
	})
}

func namesField(errs []struct{ Field, Message string }, detail, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return strings.Contains(detail, field)
}

// TestConcurrentRegistrationHasOneWinner races 64 registrations of one email through HTTP:
// the database's unique index lets exactly one through. (From one address: without the limit
// of registrations per address, which would refuse most before the database is asked.)
func TestConcurrentRegistrationHasOneWinner(t *testing.T) {
	t.Parallel()
	noLimit := func(*testing.T) []apptest.Option {
		return []apptest.Option{apptest.Env("REGISTRATION_MAX_PER_ADDR", "0")}
	}
	forEngineWith(t, noLimit, func(t *testing.T, a *api) {
		const n = 64
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			codes = map[int]int{}
			start = make(chan struct{})
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"username":"racer_%d","email":"Race@Example.com"}`, i)
				req, _ := http.NewRequest("POST", a.Base+"/users", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				<-start
				resp, err := a.Validator.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if codes[201] != 1 || codes[409] != n-1 {
			t.Fatalf("status counts %v, want one 201 and %d 409", codes, n-1)
		}
	})
}
