package notifications_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
	"github.com/acme/userservice/modules/notifications/internal/service"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/throttle/redistest"
)

// TestVerificationMailsPerRecipientOverHTTP: accounts registered for the +tag variants of one
// mailbox get MailsPerRecipient verification mails there; the next registration still answers
// 201, but its mail is dropped with a warning, and asking for it again answers 429 with
// Retry-After, though that account asked for nothing yet. On every engine, with the throttle in
// the instance and in Redis.
func TestVerificationMailsPerRecipientOverHTTP(t *testing.T) {
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
			forEngines(t, func(t *testing.T, engine database.Engine) {
				core, logs := observer.New(zapcore.WarnLevel)
				srv := smtptest.Start(t)
				a := start(t, engine, srv, append(th.opts(t),
					apptest.With(fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(core) })))...)
				register := func(i int) *oas.Client {
					t.Helper()
					email, password := fmt.Sprintf("ann+%d@example.com", i), "ann's password"
					res, err := a.Client.RegisterUser(ctx, &oas.RegisterUserRequest{Username: oas.Username(fmt.Sprintf("ann_%d", i)),
						Email: oas.Email(email), Password: oas.NewOptPassword(oas.Password(password))})
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := res.(*oas.UserHeaders); !ok {
						t.Fatalf("register %s: %T %+v", email, res, res)
					}
					return a.As(t, a.Login(t, email, password))
				}
				for i := range service.MailsPerRecipient {
					register(i)
				}
				srv.Wait(t, service.MailsPerRecipient, 30*time.Second)
				last := register(service.MailsPerRecipient)
				const dropped = "verification mail dropped: its recipient had too many within the hour"
				for deadline := time.Now().Add(30 * time.Second); logs.FilterMessage(dropped).Len() == 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no warning that the mail past the limit was dropped; warnings: %v", logs.All())
					}
				}
				res, err := last.SendVerificationEmail(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := res.(*oas.TooManyRequestsHeaders); !ok || r.RetryAfter.Or(0) < 1 {
					t.Fatalf("asking again for the mail past the limit: %T %+v", res, res)
				}
				for deadline := time.Now().Add(30 * time.Second); count(t, a, "mail_jobs") > 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("mail jobs are still waiting")
					}
				}
				if n := len(srv.Messages()); n != service.MailsPerRecipient {
					t.Fatalf("%d mails to one mailbox; want %d", n, service.MailsPerRecipient)
				}
			})
		})
	}
}
