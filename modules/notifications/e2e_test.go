package notifications_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/modules/audit"
	"github.com/acme/userservice/modules/notifications"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/modules/users"
	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/oas"
)

// The end-to-end tests run the whole application with the users module (whose events ask for
// mail, and whose accounts the links act on) and this one, over real HTTP with the generated
// client, mailing through a real SMTP server in the test.

var ctx = context.Background()

// start runs the application with the test's SMTP server.
func start(t *testing.T, engine database.Engine, srv *smtptest.Server, opts ...apptest.Option) *apptest.App {
	t.Helper()
	opts = append([]apptest.Option{
		apptest.Env("SMTP_URL", srv.URL()),
		apptest.Env("PUBLIC_BASE_URL", "https://app.example.com"),
	}, opts...)
	if engine == database.MongoDB {
		_, url := mongotest.Database(t)
		opts = append(opts, apptest.Env("DATABASE_URL", url))
	}
	return apptest.Start(t, engine, fx.Options(users.Module, audit.Module, notifications.Module), opts...)
}

// forEngines runs fn on every engine, in parallel: the SQL engines, and MongoDB.
func forEngines(t *testing.T, fn func(t *testing.T, engine database.Engine)) {
	t.Helper()
	apptest.ForEngines(t, fn)
	t.Run(string(database.MongoDB), func(t *testing.T) {
		t.Parallel()
		fn(t, database.MongoDB)
	})
}

// mailTo waits for the n-th mail the server received in all and returns it parsed, with the
// token of its link.
func mailTo(t *testing.T, srv *smtptest.Server, n int, to, subject, path string) string {
	t.Helper()
	got := srv.Wait(t, n, 30*time.Second)
	m, err := got[n-1].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if len(got[n-1].To) != 1 || got[n-1].To[0] != to || m.Subject != subject {
		t.Fatalf("mail %d: to %v, subject %q; want %s, %q", n, got[n-1].To, m.Subject, to, subject)
	}
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("mail %d has links %v", n, links)
	}
	u, err := url.Parse(links[0])
	if err != nil || u.Host != "app.example.com" || u.Path != path || u.Query().Get("token") == "" {
		t.Fatalf("mail %d links to %s", n, links[0])
	}
	if !strings.Contains(m.HTML, u.Query().Get("token")) {
		t.Fatalf("mail %d: the HTML part has another link", n)
	}
	return u.Query().Get("token")
}

// refused checks that using token at path fails with the one 400 every bad token gets.
func refused(t *testing.T, a *apptest.App, path, body string) {
	t.Helper()
	status, _, got := a.Raw(t, "POST", path, "", body)
	var p struct {
		Status int
		Detail string
		Errors []struct{ Field, Message string }
	}
	_ = json.Unmarshal([]byte(got), &p)
	if status != http.StatusBadRequest || p.Detail != "The token is invalid or has expired: ask for a new mail." ||
		len(p.Errors) != 1 || p.Errors[0].Field != "token" {
		t.Fatalf("POST %s %s: %d %s", path, body, status, got)
	}
}

func me(t *testing.T, c *oas.Client) *oas.User {
	t.Helper()
	res, err := c.GetMe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := res.(*oas.User)
	if !ok {
		t.Fatalf("GET /users/me: %T %+v", res, res)
	}
	return u
}

// TestEmailVerification: registering mails a link whose token verifies the address once; a
// used, expired or other-purpose token gets the same 400.
func TestEmailVerification(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine database.Engine) {
		srv := smtptest.Start(t)
		a := start(t, engine, srv)
		u := a.NewUser(t)
		tok := mailTo(t, srv, 1, u.Email, "Verify your email address", "/verify-email")
		if me(t, u.Client).EmailVerified {
			t.Fatal("verified before the link was used")
		}
		res, err := a.Client.VerifyEmail(ctx, &oas.VerifyEmailRequest{Token: oas.MailToken(tok)})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := res.(*oas.VerifyEmailNoContent); !ok {
			t.Fatalf("verify: %T %+v", res, res)
		}
		if got := me(t, u.Client); !got.EmailVerified || got.EmailVerifiedAt.IsNull() {
			t.Fatalf("after the link: %+v", got)
		}
		refused(t, a, "/auth/verify-email", `{"token":"`+tok+`"}`) // used

		// Verified already: no new mail.
		if res, err := u.Client.SendVerificationEmail(ctx); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.SendVerificationEmailConflict); !ok {
			t.Fatalf("resend when verified: %T", res)
		}

		// A new address is unverified and gets its own mail; the link expires.
		moved := "moved_" + u.Email
		if _, err := u.Client.UpdateUser(ctx, &oas.UpdateUserRequest{Email: oas.NewOptEmail(oas.Email(moved))}, oas.UpdateUserParams{UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		tok = mailTo(t, srv, 2, moved, "Verify your email address", "/verify-email")
		expire(t, a)
		refused(t, a, "/auth/verify-email", `{"token":"`+tok+`"}`)

		// Again, on request; a reset token is no verification token.
		if res, err := u.Client.SendVerificationEmail(ctx); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.SendVerificationEmailAccepted); !ok {
			t.Fatalf("resend: %T", res)
		}
		tok = mailTo(t, srv, 3, moved, "Verify your email address", "/verify-email")
		a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+moved+`"}`)
		reset := mailTo(t, srv, 4, moved, "Reset your password", "/reset-password")
		refused(t, a, "/auth/verify-email", `{"token":"`+reset+`"}`)
		refused(t, a, "/auth/verify-email", `{"token":"no such token"}`)
		if status, _, body := a.Raw(t, "POST", "/auth/verify-email", "", `{"token":"`+tok+`"}`); status != http.StatusNoContent {
			t.Fatalf("the latest verification token: %d %s", status, body)
		}
		if !me(t, u.Client).EmailVerified {
			t.Fatal("the new address is not verified")
		}
	})
}

// trail waits until the audit trail about the user holds every one of types.
func trail(t *testing.T, admin *oas.Client, user uuid.UUID, types ...string) {
	t.Helper()
	var seen map[string]bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := admin.ListAuditEvents(ctx, oas.ListAuditEventsParams{UserID: oas.NewOptUUID(user), Limit: oas.NewOptInt(100)})
		if err != nil {
			t.Fatal(err)
		}
		seen = map[string]bool{}
		for _, e := range res.(*oas.AuditEventPage).Items {
			seen[e.Type] = true
		}
		missing := slices.DeleteFunc(slices.Clone(types), func(typ string) bool { return seen[typ] })
		if len(missing) == 0 {
			return
		}
	}
	t.Fatalf("the trail has %v, want every one of %v", seen, types)
}

// TestResendIsThrottled: a user may ask for the verification mail again, a few times.
func TestResendIsThrottled(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	a := start(t, database.SQLite, srv)
	u := a.NewUser(t)
	for i := range service.MailsPerAccount {
		if res, err := u.Client.SendVerificationEmail(ctx); err != nil {
			t.Fatal(err)
		} else if _, ok := res.(*oas.SendVerificationEmailAccepted); !ok {
			t.Fatalf("resend %d: %T", i+1, res)
		}
	}
	res, err := u.Client.SendVerificationEmail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.(*oas.TooManyRequestsHeaders); !ok || r.RetryAfter.Value == 0 {
		t.Fatalf("a resend past the limit: %T %+v", res, res)
	}
	srv.Wait(t, 1+service.MailsPerAccount, 30*time.Second)
}

// TestMailRequestsAreThrottledPerClient: one client asking for mail about many addresses, or
// for many accounts, is stopped too (429 with Retry-After), though no address or account is
// over its own limit.
func TestMailRequestsAreThrottledPerClient(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	a := start(t, database.SQLite, srv)
	throttled := func(status int, h http.Header) bool {
		return status == http.StatusTooManyRequests && h.Get("Retry-After") != ""
	}
	for i := range service.MailsPerClient {
		if status, _, body := a.Raw(t, "POST", "/auth/password-reset", "", fmt.Sprintf(`{"email":"nobody%d@example.com"}`, i)); status != http.StatusAccepted {
			t.Fatalf("reset request %d: %d %s", i+1, status, body)
		}
	}
	if status, h, body := a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"one.more@example.com"}`); !throttled(status, h) {
		t.Fatalf("a reset request past the client's limit: %d %s", status, body)
	}

	// Resends: each account under its limit, the client over its own.
	asked := 0
	for asked < service.MailsPerClient {
		u := a.NewUser(t)
		for range min(service.MailsPerAccount, service.MailsPerClient-asked) {
			if status, _, body := a.Raw(t, "POST", "/users/me/verification-email", u.Token, ""); status != http.StatusAccepted {
				t.Fatalf("resend %d: %d %s", asked+1, status, body)
			}
			asked++
		}
	}
	if status, h, body := a.Raw(t, "POST", "/users/me/verification-email", a.NewUser(t).Token, ""); !throttled(status, h) {
		t.Fatalf("a resend past the client's limit: %d %s", status, body)
	}
}

// expire makes every mailed token expired, as the passing of its lifetime would.
func expire(t *testing.T, a *apptest.App) {
	t.Helper()
	q := "UPDATE mail_tokens SET expires_at = created_at"
	var err error
	switch a.DB.Engine {
	case database.MongoDB:
		_, err = a.DB.Mongo.Collection("mail_tokens").UpdateMany(ctx, bson.D{},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: int64(1)}}}})
	case database.Postgres:
		_, err = a.DB.Pool.Exec(ctx, q)
	default:
		_, err = a.DB.SQL.Exec(q)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestPasswordReset: known and unknown addresses get the same answer, only the known one a
// mail, whose token sets the password once and ends every session.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine database.Engine) {
		srv := smtptest.Start(t)
		a := start(t, engine, srv)
		u := a.NewUser(t)
		mailTo(t, srv, 1, u.Email, "Verify your email address", "/verify-email")
		res, err := a.Client.CreateToken(ctx, &oas.TokenRequest{Email: u.Email, Password: u.Password})
		if err != nil {
			t.Fatal(err)
		}
		session := res.(*oas.Token)

		// Neither the answer nor its time tells: each takes at least the floor, which is above
		// what the work of a known address takes (a lower bound: no timing can make it flaky).
		began := time.Now()
		unknownStatus, _, unknownBody := a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"nobody@example.com"}`)
		unknownTook := time.Since(began)
		began = time.Now()
		knownStatus, _, knownBody := a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+strings.ToUpper(u.Email)+`"}`)
		knownTook := time.Since(began)
		if unknownStatus != http.StatusAccepted || knownStatus != unknownStatus || knownBody != unknownBody {
			t.Fatalf("unknown: %d %s; known: %d %s", unknownStatus, unknownBody, knownStatus, knownBody)
		}
		if unknownTook < notifications.ResetFloor || knownTook < notifications.ResetFloor {
			t.Fatalf("an unknown address took %s, a known one %s; want both at least %s", unknownTook, knownTook, notifications.ResetFloor)
		}
		tok := mailTo(t, srv, 2, u.Email, "Reset your password", "/reset-password")
		// No engine stores a NUL: the address is refused as such, before any is looked up.
		if status, _, body := a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"a\u0000`+u.Email+`"}`); status != http.StatusBadRequest ||
			!strings.Contains(body, "email: must not hold a NUL character") {
			t.Fatalf("an address with a NUL: %d %s", status, body)
		}

		const newPassword = "a new password, mailed"
		if status, _, body := a.Raw(t, "POST", "/auth/password-reset/confirm", "", `{"token":"`+tok+`","new_password":"short"}`); status != http.StatusBadRequest || !strings.Contains(body, "new_password") {
			t.Fatalf("a short password: %d %s", status, body)
		}
		confirm, err := a.Client.ConfirmPasswordReset(ctx, &oas.ConfirmPasswordResetRequest{Token: oas.MailToken(tok), NewPassword: newPassword})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := confirm.(*oas.ConfirmPasswordResetNoContent); !ok {
			t.Fatalf("confirm: %T %+v", confirm, confirm)
		}
		refused(t, a, "/auth/password-reset/confirm", `{"token":"`+tok+`","new_password":"`+newPassword+`"}`)

		// The old sessions and refresh tokens are dead; the new password works, and the mail
		// proved the address.
		for _, tok := range []string{u.Token, session.AccessToken} {
			if status, _, _ := a.Raw(t, "GET", "/users/me", tok, ""); status != http.StatusUnauthorized {
				t.Fatalf("an access token from before the reset: %d", status)
			}
		}
		if status, _, _ := a.Raw(t, "POST", "/auth/refresh", "", `{"refresh_token":"`+session.RefreshToken+`"}`); status != http.StatusUnauthorized {
			t.Fatalf("a refresh token from before the reset: %d", status)
		}
		if status, _, _ := a.Raw(t, "POST", "/auth/token", "", `{"email":"`+u.Email+`","password":"`+u.Password+`"}`); status != http.StatusUnauthorized {
			t.Fatalf("the old password: %d", status)
		}
		if !me(t, a.As(t, a.Login(t, u.Email, newPassword))).EmailVerified {
			t.Fatal("the reset did not verify the address")
		}

		// The audit trail has the whole story.
		admin := a.NewAdmin(t)
		trail(t, admin.Client, u.ID, "userservice.notifications.verification_sent.v1", "userservice.notifications.password_reset_requested.v1",
			"userservice.notifications.password_reset_sent.v1", userevents.TypePasswordReset, userevents.TypeEmailVerified,
			userevents.TypeSessionRevoked)

		// No mail went to the unknown address, and none is on its way.
		time.Sleep(300 * time.Millisecond)
		if n := len(srv.Messages()); n != 2 {
			t.Fatalf("%d mails, want 2", n)
		}

		// Throttled per address asked about, known or not, alike.
		for _, email := range []string{u.Email, "nobody@example.com"} {
			var status int
			var h http.Header
			for range 5 {
				if status, h, _ = a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+email+`"}`); status == http.StatusTooManyRequests {
					break
				}
			}
			if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
				t.Fatalf("reset requests for %s were not throttled: %d", email, status)
			}
		}
	})
}

// TestMailSurvivesAnSMTPOutage: with the mail server down, requests still succeed, and the mails
// go out when it is back.
func TestMailSurvivesAnSMTPOutage(t *testing.T) {
	t.Parallel()
	forEngines(t, outage)
}

func outage(t *testing.T, engine database.Engine) {
	srv := smtptest.Start(t)
	a := start(t, engine, srv)
	srv.Stop()
	u := a.NewUser(t)
	if status, _, _ := a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+u.Email+`"}`); status != http.StatusAccepted {
		t.Fatalf("reset with the mail server down: %d", status)
	}
	time.Sleep(1500 * time.Millisecond) // a few failed attempts
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d mails while the server was down", n)
	}
	srv.Restart()
	got := srv.Wait(t, 2, 30*time.Second)
	subjects := map[string]bool{}
	for _, m := range got {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		subjects[p.Subject] = true
	}
	if !subjects["Verify your email address"] || !subjects["Reset your password"] {
		t.Fatalf("after the outage: %v", subjects)
	}
	// The failed attempts left no token behind: one per mail sent.
	if n := count(t, a, "mail_tokens"); n != 2 {
		t.Fatalf("%d tokens stored for 2 mails", n)
	}
}

// count returns how many rows table has (on MongoDB, live documents its collection has).
func count(t *testing.T, a *apptest.App, table string) int {
	t.Helper()
	var n int
	var err error
	if a.DB.Engine == database.MongoDB {
		filter := bson.D{}
		if table == "mail_jobs" { // the waiting ones: ended jobs stay a while
			filter = bson.D{{Key: "deleted", Value: false}, {Key: "ended_at", Value: int64(0)}}
		}
		m, err := a.DB.Mongo.Collection(table).CountDocuments(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		return int(m)
	}
	if a.DB.Engine == database.Postgres {
		err = a.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	} else {
		err = a.DB.SQL.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestARefusedMailboxIsNotRetried: a recipient the mail server refuses for good ends its job at
// once, while the other mails go out.
func TestARefusedMailboxIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithUnknownRecipients("nobody_home@example.com"))
	a := start(t, database.SQLite, srv)
	if status, _, body := a.Raw(t, "POST", "/users", "", `{"username":"nobody_home","email":"nobody_home@example.com"}`); status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, body)
	}
	u := a.NewUser(t)
	mailTo(t, srv, 1, u.Email, "Verify your email address", "/verify-email")
	for deadline := time.Now().Add(30 * time.Second); count(t, a, "mail_jobs") > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refused mailbox's job is still there: it is being retried")
		}
	}
	if n := count(t, a, "mail_tokens"); n != 1 {
		t.Fatalf("%d tokens stored, want only the sent mail's", n)
	}
}

// TestNoMailToAnAddressLeft: mails asked for an address the account has left by the time they
// can go are not sent.
func TestNoMailToAnAddressLeft(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	a := start(t, database.SQLite, srv)
	srv.Stop()
	u := a.NewUser(t)
	a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+u.Email+`"}`)
	moved := "moved_" + u.Email
	if _, err := u.Client.UpdateUser(ctx, &oas.UpdateUserRequest{Email: oas.NewOptEmail(oas.Email(moved))}, oas.UpdateUserParams{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	mailTo(t, srv, 1, moved, "Verify your email address", "/verify-email")
	for deadline := time.Now().Add(30 * time.Second); count(t, a, "mail_jobs") > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the jobs for the old address are still there")
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails, want only the one to the new address", n)
	}
}

// withLinks returns a new user of a, with the tokens of their verification mail and of a reset
// mail, the first two mails srv receives.
func withLinks(t *testing.T, a *apptest.App, srv *smtptest.Server) (u apptest.User, verify, reset string) {
	t.Helper()
	u = a.NewUser(t)
	verify = mailTo(t, srv, 1, u.Email, "Verify your email address", "/verify-email")
	a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+u.Email+`"}`)
	return u, verify, mailTo(t, srv, 2, u.Email, "Reset your password", "/reset-password")
}

// TestLinksOfADeactivatedAccountDoNothing: a reset link mailed before a deactivation cannot set
// the password that a reactivation would revive; it is spent like any void token.
func TestLinksOfADeactivatedAccountDoNothing(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine database.Engine) {
		srv := smtptest.Start(t)
		a := start(t, engine, srv)
		u, verify, reset := withLinks(t, a, srv)
		admin := a.NewAdmin(t)
		path := "/users/" + u.ID.String()
		if status, _, body := a.Raw(t, "POST", path+"/deactivate", admin.Token, ""); status != http.StatusOK {
			t.Fatalf("deactivate: %d %s", status, body)
		}
		calls := [][2]string{
			{"/auth/password-reset/confirm", `{"token":"` + reset + `","new_password":"set while deactivated"}`},
			{"/auth/verify-email", `{"token":"` + verify + `"}`},
		}
		for _, c := range calls {
			refused(t, a, c[0], c[1])
		}
		if status, _, body := a.Raw(t, "POST", path+"/activate", admin.Token, ""); status != http.StatusOK {
			t.Fatalf("activate: %d %s", status, body)
		}
		for _, c := range calls {
			refused(t, a, c[0], c[1])
		}
		if status, _, _ := a.Raw(t, "POST", "/auth/token", "", `{"email":"`+u.Email+`","password":"set while deactivated"}`); status != http.StatusUnauthorized {
			t.Fatalf("the password sent while deactivated: %d", status)
		}
		if me(t, a.As(t, a.Login(t, u.Email, u.Password))).EmailVerified {
			t.Fatal("verified by a link used while deactivated")
		}
	})
}

// TestAFailedUseGivesTheTokenBack: when the users module fails to do what a token proves
// (here its table refuses every update), the token is given back: its link works once the
// failure is over, where it would otherwise be spent on nothing.
func TestAFailedUseGivesTheTokenBack(t *testing.T) {
	t.Parallel()
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) {
		srv := smtptest.Start(t)
		a := start(t, engine, srv)
		u, verify, reset := withLinks(t, a, srv)

		refuse, allow := "CREATE TRIGGER refuse_updates BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
			"DROP TRIGGER refuse_updates"
		exec := func(q string) {
			var err error
			if engine == database.Postgres {
				_, err = a.DB.Pool.Exec(ctx, q)
			} else {
				_, err = a.DB.SQL.Exec(q)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if engine == database.Postgres {
			exec(`CREATE FUNCTION refuse_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`)
			refuse, allow = "CREATE TRIGGER refuse_updates BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_updates()",
				"DROP TRIGGER refuse_updates ON users"
		}
		exec(refuse)
		calls := []struct{ path, body string }{
			{"/auth/verify-email", `{"token":"` + verify + `"}`},
			{"/auth/password-reset/confirm", `{"token":"` + reset + `","new_password":"a password after all"}`},
		}
		for _, c := range calls {
			if status, _, body := a.Raw(t, "POST", c.path, "", c.body); status != http.StatusInternalServerError {
				t.Fatalf("POST %s while the accounts fail: %d %s", c.path, status, body)
			}
		}
		exec(allow)
		for _, c := range calls {
			if status, _, body := a.Raw(t, "POST", c.path, "", c.body); status != http.StatusNoContent {
				t.Fatalf("POST %s once the failure is over: %d %s", c.path, status, body)
			}
			refused(t, a, c.path, c.body) // and then it is spent
		}
		a.Login(t, u.Email, "a password after all")
	})
}

// TestNoTokensInLogs runs verification, reset (through an SMTP outage) and refresh with every
// log line captured at debug level and fails if a token, a link or a password appears in any
// of them.
func TestNoTokensInLogs(t *testing.T) {
	t.Parallel()
	forEngines(t, noTokensInLogs)
}

func noTokensInLogs(t *testing.T, engine database.Engine) {
	core, logs := observer.New(zapcore.DebugLevel)
	srv := smtptest.Start(t)
	a := start(t, engine, srv, apptest.Env("LOG_LEVEL", "debug"),
		apptest.With(fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(core) })))
	u := a.NewUser(t)
	verify := mailTo(t, srv, 1, u.Email, "Verify your email address", "/verify-email")
	a.Raw(t, "POST", "/auth/verify-email", "", `{"token":"`+verify+`"}`)
	// The reset's mail fails first, so that the sender's retries are logged too.
	srv.Stop()
	a.Raw(t, "POST", "/auth/password-reset", "", `{"email":"`+u.Email+`"}`)
	for deadline := time.Now().Add(10 * time.Second); logs.FilterMessage("mail not sent").Len() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no retry of the reset mail was logged")
		}
	}
	srv.Restart()
	reset := mailTo(t, srv, 2, u.Email, "Reset your password", "/reset-password")
	const newPassword = "the reset password"
	a.Raw(t, "POST", "/auth/password-reset/confirm", "", `{"token":"`+reset+`","new_password":"`+newPassword+`"}`)
	res, err := a.Client.CreateToken(ctx, &oas.TokenRequest{Email: u.Email, Password: newPassword})
	if err != nil {
		t.Fatal(err)
	}
	tok := res.(*oas.Token)
	rotated, err := a.Client.RefreshToken(ctx, &oas.RefreshRequest{RefreshToken: tok.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	next, ok := rotated.(*oas.Token)
	if !ok {
		t.Fatalf("refresh: %T", rotated)
	}
	a.Raw(t, "POST", "/auth/refresh", "", `{"refresh_token":"`+tok.RefreshToken+`"}`) // reuse: the session ends

	secrets := []string{verify, reset, newPassword, u.Password, tok.RefreshToken, tok.AccessToken, strings.Split(tok.AccessToken, ".")[2],
		next.RefreshToken, next.AccessToken}
	if logs.Len() < 10 {
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
