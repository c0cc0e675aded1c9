package users_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
)

// login logs in with the generated client and returns the whole answer.
func (a *api) login(t *testing.T, email, password string) *oas.Token {
	t.Helper()
	res, err := a.Client.CreateToken(ctx, &oas.TokenRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := res.(*oas.Token)
	if !ok || tok.RefreshToken == "" {
		t.Fatalf("login %s: %T %+v", email, res, res)
	}
	return tok
}

// refresh presents a refresh token and returns the new tokens, or nil with the 401 it got.
func (a *api) refresh(t *testing.T, refresh string) *oas.Token {
	t.Helper()
	res, err := a.Client.RefreshToken(ctx, &oas.RefreshRequest{RefreshToken: refresh})
	if err != nil {
		t.Fatal(err)
	}
	switch res := res.(type) {
	case *oas.Token:
		return res
	case *oas.UnauthorizedHeaders:
		if res.WWWAuthenticate.Value != "Bearer" || !strings.Contains(res.Response.Detail, "refresh token") {
			t.Fatalf("refused refresh: %+v", res)
		}
		return nil
	}
	t.Fatalf("refresh: %T %+v", res, res)
	return nil
}

// works reports whether an access token is accepted, and fails the test on anything but 200
// or 401.
func (a *api) works(t *testing.T, access string) bool {
	t.Helper()
	status, _, body := a.Raw(t, "GET", "/users/me", access, "")
	if status != http.StatusOK && status != http.StatusUnauthorized {
		t.Fatalf("GET /users/me: %d %s", status, body)
	}
	return status == http.StatusOK
}

// TestRefreshRotationAndReuse: every refresh token works once; presenting a used one ends the
// session, so that the newest tokens, whoever holds them, stop working too.
func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
		first := a.login(t, "alice@example.com", "alice's password")
		second := a.refresh(t, first.RefreshToken)
		if second == nil || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatalf("rotation: %+v after %+v", second, first)
		}
		third := a.refresh(t, second.RefreshToken)
		if third == nil || !a.works(t, third.AccessToken) {
			t.Fatal("the rotated token did not refresh")
		}
		other := a.login(t, "alice@example.com", "alice's password") // another session, untouched

		if a.refresh(t, first.RefreshToken) != nil {
			t.Fatal("a used refresh token worked again")
		}
		if a.refresh(t, third.RefreshToken) != nil {
			t.Fatal("after a reuse, the session's newest refresh token still works")
		}
		if a.works(t, third.AccessToken) {
			t.Fatal("after a reuse, the session's access token still works")
		}
		if !a.works(t, other.AccessToken) || a.refresh(t, other.RefreshToken) == nil {
			t.Fatal("a reuse in one session ended another")
		}
		for _, bad := range []string{"", "garbage", strings.Repeat("A", 43)} {
			if a.refresh(t, bad) != nil {
				t.Fatalf("refresh token %q worked", bad)
			}
		}
		status, _, body := a.Raw(t, "POST", "/auth/refresh", "", `{"refresh_token":"`+strings.Repeat("x", 101)+`"}`)
		if status != http.StatusBadRequest || !strings.Contains(body, "refresh_token") {
			t.Fatalf("an overlong refresh token: %d %s", status, body)
		}
	})
}

// TestSessionsOverHTTP lists and ends sessions: logout, one session, all others, an admin ending
// a user's sessions, and the password change and deactivation that end them all.
func TestSessionsOverHTTP(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		const pw = "alice's password"
		alice := a.registerWithPassword(t, "alice", "alice@example.com", pw)
		a.registerWithPassword(t, "bob", "bob@example.com", "bob's password")
		bob := a.login(t, "bob@example.com", "bob's password")
		b, c := a.login(t, "alice@example.com", pw), a.login(t, "alice@example.com", pw)

		res, err := a.As(t, b.AccessToken).ListMySessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, ok := res.(*oas.SessionList)
		if !ok || len(list.Items) != 2 || list.Items[1].Current != true || list.Items[0].Current {
			t.Fatalf("sessions: %T %+v", res, res)
		}
		cID := list.Items[0].SessionID // newest first: c's
		if s := list.Items[0]; s.ClientAddr == "" || s.UserAgent == "" || !s.ExpiresAt.After(s.CreatedAt) {
			t.Fatalf("a session says too little: %+v", s)
		}

		// One session: its tokens stop at once; a second time, or someone else's, is not found.
		if status, _, body := a.Raw(t, "DELETE", "/users/me/sessions/"+cID.String(), b.AccessToken, ""); status != http.StatusNoContent {
			t.Fatalf("end a session: %d %s", status, body)
		}
		if a.works(t, c.AccessToken) || a.refresh(t, c.RefreshToken) != nil {
			t.Fatal("an ended session's tokens still work")
		}
		for _, id := range []string{cID.String(), uuid.NewString()} {
			if status, _, body := a.Raw(t, "DELETE", "/users/me/sessions/"+id, b.AccessToken, ""); status != http.StatusNotFound {
				t.Fatalf("end an ended or unknown session: %d %s", status, body)
			}
		}
		if status, _, body := a.Raw(t, "DELETE", "/users/me/sessions/"+cID.String(), bob.AccessToken, ""); status != http.StatusNotFound {
			t.Fatalf("end another user's session: %d %s", status, body)
		}

		// All the others.
		d := a.login(t, "alice@example.com", pw)
		if status, _, body := a.Raw(t, "DELETE", "/users/me/sessions", b.AccessToken, ""); status != http.StatusNoContent {
			t.Fatalf("end the others: %d %s", status, body)
		}
		if a.works(t, d.AccessToken) || !a.works(t, b.AccessToken) || !a.works(t, bob.AccessToken) {
			t.Fatal("ending the other sessions ended the wrong ones")
		}

		// Logout: the session's access and refresh tokens stop.
		if status, _, body := a.Raw(t, "POST", "/auth/logout", b.AccessToken, ""); status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", status, body)
		}
		if a.works(t, b.AccessToken) || a.refresh(t, b.RefreshToken) != nil {
			t.Fatal("a logged-out session's tokens still work")
		}
		if status, _, _ := a.Raw(t, "POST", "/auth/logout", b.AccessToken, ""); status != http.StatusUnauthorized {
			t.Fatalf("logout twice: %d", status)
		}

		// An admin ends a user's sessions; a user may not; an unknown user is not found.
		e := a.login(t, "alice@example.com", pw)
		admin := a.adminToken(t)
		if status, _, _ := a.Raw(t, "DELETE", "/users/"+alice.UserID.String()+"/sessions", bob.AccessToken, ""); status != http.StatusForbidden {
			t.Fatalf("a user ends another's sessions: %d", status)
		}
		if status, _, body := a.Raw(t, "DELETE", "/users/"+alice.UserID.String()+"/sessions", admin, ""); status != http.StatusNoContent {
			t.Fatalf("an admin ends a user's sessions: %d %s", status, body)
		}
		if status, _, _ := a.Raw(t, "DELETE", "/users/"+uuid.NewString()+"/sessions", admin, ""); status != http.StatusNotFound {
			t.Fatalf("sessions of an unknown user: %d", status)
		}
		if a.works(t, e.AccessToken) || a.refresh(t, e.RefreshToken) != nil {
			t.Fatal("the sessions an admin ended still work")
		}

		// A password change ends every session, the one that made it included.
		f, g := a.login(t, "alice@example.com", pw), a.login(t, "alice@example.com", pw)
		if status, _, body := a.Raw(t, "POST", "/users/me/password", f.AccessToken, `{"current_password":"`+pw+`","new_password":"a new password"}`); status != http.StatusNoContent {
			t.Fatalf("change password: %d %s", status, body)
		}
		for _, tok := range []*oas.Token{f, g} {
			if a.works(t, tok.AccessToken) || a.refresh(t, tok.RefreshToken) != nil {
				t.Fatal("a session from before the password change still works")
			}
		}

		// Deactivation ends them too, and activation revives none.
		h := a.login(t, "alice@example.com", "a new password")
		if status, _, body := a.Raw(t, "POST", "/users/"+alice.UserID.String()+"/deactivate", admin, ""); status != http.StatusOK {
			t.Fatalf("deactivate: %d %s", status, body)
		}
		if status, _, body := a.Raw(t, "POST", "/users/"+alice.UserID.String()+"/activate", admin, ""); status != http.StatusOK {
			t.Fatalf("activate: %d %s", status, body)
		}
		if a.works(t, h.AccessToken) || a.refresh(t, h.RefreshToken) != nil {
			t.Fatal("a session from before the deactivation still works")
		}
		if !a.works(t, a.login(t, "alice@example.com", "a new password").AccessToken) {
			t.Fatal("a new login after activation does not work")
		}
	})
}

// adminToken returns the access token of a new admin.
func (a *api) adminToken(t *testing.T) string {
	t.Helper()
	return a.NewAdmin(t).Token
}

// TestEmailVerifiedFlag: a new user is unverified, an admin may mark them verified, and a new
// address is unverified again.
func TestEmailVerifiedFlag(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		alice := a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
		if alice.EmailVerified || !alice.EmailVerifiedAt.IsNull() {
			t.Fatalf("a new user is verified: %+v", alice)
		}
		mine := a.login(t, "alice@example.com", "alice's password").AccessToken
		path := "/users/" + alice.UserID.String() + "/verify-email"
		if status, _, _ := a.Raw(t, "POST", path, mine, ""); status != http.StatusForbidden {
			t.Fatalf("a user marks their own email verified: %d", status)
		}
		admin := a.adminToken(t)
		for range 2 { // idempotent
			status, _, body := a.Raw(t, "POST", path, admin, "")
			if status != http.StatusOK || !strings.Contains(body, `"email_verified":true`) || !strings.Contains(body, `"email_verified_at":"20`) {
				t.Fatalf("an admin marks it verified: %d %s", status, body)
			}
		}
		if status, _, _ := a.Raw(t, "POST", "/users/"+uuid.NewString()+"/verify-email", admin, ""); status != http.StatusNotFound {
			t.Fatalf("an unknown user: %d", status)
		}
		status, _, body := a.Raw(t, "PATCH", "/users/"+alice.UserID.String(), mine, `{"email":"ALICE@example.com"}`)
		if status != http.StatusOK || !strings.Contains(body, `"email_verified":true`) {
			t.Fatalf("a new spelling of the same address: %d %s", status, body)
		}
		status, _, body = a.Raw(t, "PATCH", "/users/"+alice.UserID.String(), mine, `{"email":"alice@elsewhere.example"}`)
		if status != http.StatusOK || !strings.Contains(body, `"email_verified":false`) || !strings.Contains(body, `"email_verified_at":null`) {
			t.Fatalf("a new address: %d %s", status, body)
		}
	})
}

// TestRequireVerifiedEmail: with REQUIRE_VERIFIED_EMAIL on, the right password of an unverified
// account gets 403, a wrong one the usual 401, and a verified account logs in.
func TestRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite, apptest.Env("REQUIRE_VERIFIED_EMAIL", "true"))
	alice := a.registerWithPassword(t, "alice", "alice@example.com", "alice's password")
	status, _, body := a.Raw(t, "POST", "/auth/token", "", `{"email":"alice@example.com","password":"alice's password"}`)
	if status != http.StatusForbidden || !strings.Contains(body, "Verify your email address") {
		t.Fatalf("unverified: %d %s", status, body)
	}
	if status, _, _ := a.Raw(t, "POST", "/auth/token", "", `{"email":"alice@example.com","password":"wrong password"}`); status != http.StatusUnauthorized {
		t.Fatalf("unverified, wrong password: %d", status)
	}
	if status, _, body := a.Raw(t, "POST", "/users/"+alice.UserID.String()+"/verify-email", a.adminToken(t), ""); status != http.StatusOK {
		t.Fatalf("mark verified: %d %s", status, body)
	}
	a.login(t, "alice@example.com", "alice's password")
}
