package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications"
	notifevents "github.com/acme/userservice/modules/notifications/events"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/token"
	eventsql "github.com/acme/userservice/queries/events"
)

// TestARecordedSendVoidsOnlyOlderLinks: two mails of one purpose to a user, the first's send
// recorded after the second's token was stored (two senders at once). The second link must
// still work: only the latest mail's link counts, whatever order the sends are recorded in.
func TestARecordedSendVoidsOnlyOlderLinks(t *testing.T) {
	t.Parallel()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store, err := notifications.NewStore(dbtest.Open(t, engine, notifications.Migrations(), eventsql.Migrations()), nil)
			if err != nil {
				t.Fatal(err)
			}
			user, now := uuid.New(), time.Now()
			var tokens [2]string
			var sent [2]ports.SentJob
			for i := range 2 {
				j := domain.NewJob(uuid.New(), domain.PurposeVerifyEmail, user, "ann@example.com", "", now)
				if err := store.AddJob(ctx, j); err != nil {
					t.Fatal(err)
				}
				tok, digest := token.Opaque{}.New()
				tokens[i] = tok
				tk := domain.NewToken(digest, j, now.Add(time.Duration(i)*time.Second))
				sent[i] = ports.SentJob{Job: j, Token: tk, Event: ports.Event{Type: notifevents.TypeVerificationSent, Subject: user,
					Time: tk.CreatedAt, Actor: "system", Data: notifevents.Sent{UserID: user, Email: j.Email, ExpiresAt: tk.ExpiresAt}}}
				if err := store.AddTokens(ctx, tk); err != nil {
					t.Fatal(err)
				}
			}
			// The second's send is recorded first, the first's after it.
			for _, i := range []int{1, 0} {
				if err := store.Sent(ctx, sent[i]); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := store.UseToken(ctx, token.Opaque{}.Digest(tokens[0]), domain.PurposeVerifyEmail, now.Add(time.Minute)); err == nil {
				t.Error("the older link works after the newer one was sent")
			}
			if _, _, err := store.UseToken(ctx, token.Opaque{}.Digest(tokens[1]), domain.PurposeVerifyEmail, now.Add(time.Minute)); err != nil {
				t.Errorf("the newer link: %v", err)
			}
		})
	}
}
