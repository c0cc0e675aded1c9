package smtptest_test

import (
	"crypto/tls"
	"net/smtp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
)

// send sends one message to srv with the standard library's client, with STARTTLS when
// tlsConfig is set.
func send(srv *smtptest.Server, auth smtp.Auth, tlsConfig *tls.Config, body string) error {
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if tlsConfig != nil {
		if err := c.StartTLS(tlsConfig); err != nil {
			return err
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("no-reply@acme.test"); err != nil {
		return err
	}
	for _, rcpt := range []string{"ann@example.com", "bob@example.com"} {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("Subject: hi\r\n\r\n" + body + "\r\n")); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestServerKeepsMessagesAcrossRestarts: a message's envelope and content are kept; stopped,
// the server refuses connections; restarted on the same port, it accepts mail again and still
// has the earlier messages.
func TestServerKeepsMessagesAcrossRestarts(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	if !strings.HasPrefix(srv.URL(), "smtp://127.0.0.1:") || srv.RootCAs() != nil {
		t.Fatalf("URL %q, roots %v; want smtp://127.0.0.1:port and no TLS", srv.URL(), srv.RootCAs())
	}
	if err := send(srv, nil, nil, "first"); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if got.From != "no-reply@acme.test" || !slices.Equal(got.To, []string{"ann@example.com", "bob@example.com"}) || got.TLS {
		t.Errorf("envelope from %q to %q, TLS %v", got.From, got.To, got.TLS)
	}
	if m, err := got.Parse(); err != nil || m.Subject != "hi" || m.Text != "first\r\n" {
		t.Errorf("parsed %+v, %v", m, err)
	}
	srv.Stop()
	if err := send(srv, nil, nil, "while stopped"); err == nil {
		t.Fatal("a stopped server accepted mail")
	}
	srv.Restart()
	if err := send(srv, nil, nil, "second"); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Wait(t, 2, 5*time.Second); len(msgs) != 2 {
		t.Fatalf("%d messages; want 2", len(msgs))
	}
}

func TestServerAuthAndTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []smtptest.Option
		auth     smtp.Auth
		starttls bool
		wantErr  string
		wantTLS  bool
	}{
		{name: "the right password", opts: []smtptest.Option{smtptest.WithAuth("alice", "s3cret")}, auth: smtp.PlainAuth("", "alice", "s3cret", "127.0.0.1")},
		{name: "a wrong password", opts: []smtptest.Option{smtptest.WithAuth("alice", "s3cret")}, auth: smtp.PlainAuth("", "alice", "guess", "127.0.0.1"), wantErr: "535"},
		{name: "no authentication", opts: []smtptest.Option{smtptest.WithAuth("alice", "s3cret")}, wantErr: "authenticate"},
		{name: "STARTTLS with the server's roots", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, starttls: true, wantTLS: true},
		{name: "STARTTLS where the server has none", starttls: true, wantErr: "TLS not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tc.opts...)
			var tlsConfig *tls.Config
			if tc.starttls {
				tlsConfig = &tls.Config{ServerName: "127.0.0.1", RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12}
			}
			err := send(srv, tc.auth, tlsConfig, "body")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one about %q", err, tc.wantErr)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Fatalf("%d messages accepted", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.Wait(t, 1, 5*time.Second)[0]; got.TLS != tc.wantTLS {
				t.Errorf("TLS %v; want %v", got.TLS, tc.wantTLS)
			}
		})
	}
}
