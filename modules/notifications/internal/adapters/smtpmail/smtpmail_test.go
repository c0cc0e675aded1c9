package smtpmail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/userservice/modules/notifications/internal/adapters/smtpmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

const (
	from = "Acme <no-reply@acme.test>"
	link = "https://app.test/verify?token=tok-3f9a&next=%2F"
)

var verification = ports.Message{
	To:      "Ann Example <ann@example.com>",
	Subject: "Bestätigen Sie Ihre Adresse",
	Text:    "Hello Ann,\n\nopen " + link + " to confirm your address.\n",
	HTML:    `<p>Hello Ann,</p><p><a href="https://app.test/verify?token=tok-3f9a&amp;next=%2F">Confirm your address</a></p>`,
}

func newMailer(t *testing.T, url string, opts ...smtpmail.Option) *smtpmail.Mailer {
	t.Helper()
	m, err := smtpmail.New(url, from, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSendDelivers: the server gets the envelope and a message with the headers and both
// bodies of ports.Message.
func TestSendDelivers(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	if err := newMailer(t, srv.URL()).Send(t.Context(), verification); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if got.From != "no-reply@acme.test" || len(got.To) != 1 || got.To[0] != "ann@example.com" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	m, err := got.Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct{ name, want string }{
		{"From", `"Acme" <no-reply@acme.test>`},
		{"To", `"Ann Example" <ann@example.com>`},
	} {
		a, err := mail.ParseAddress(m.Header.Get(h.name))
		if err != nil || a.String() != h.want {
			t.Errorf("%s: %v, %v; want %s", h.name, a, err, h.want)
		}
	}
	if m.Subject != verification.Subject {
		t.Errorf("Subject %q; want %q", m.Subject, verification.Subject)
	}
	if date, err := m.Header.Date(); err != nil || time.Since(date) > time.Minute || time.Since(date) < -time.Minute {
		t.Errorf("Date %v, %v; want about now", date, err)
	}
	if id := m.Header.Get("Message-ID"); !strings.HasSuffix(id, "@acme.test>") {
		t.Errorf("Message-ID %q; want one in the sender's domain", id)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type %q; want multipart/alternative", ct)
	}
	if strings.TrimSpace(strings.ReplaceAll(m.Text, "\r\n", "\n")) != strings.TrimSpace(verification.Text) || m.HTML != verification.HTML {
		t.Errorf("text %q, HTML %q", m.Text, m.HTML)
	}
	if links := m.Links(); len(links) != 1 || links[0] != link {
		t.Errorf("links %q; want [%s]", links, link)
	}
}

// TestSendAuthenticates: with a user in the URL the Mailer authenticates, and a wrong password
// is an error; auto authentication does not send a password over a connection without TLS.
func TestSendAuthenticates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		url     func(srv *smtptest.Server) string
		wantErr string
	}{
		{name: "PLAIN, the right password", url: func(s *smtptest.Server) string { return s.URL() + "?auth=plain" }},
		{name: "PLAIN, a wrong password", url: func(s *smtptest.Server) string { return withPassword(s, "guess") + "?auth=plain" }, wantErr: "535"},
		{name: "auto, no TLS", url: func(s *smtptest.Server) string { return s.URL() }, wantErr: "autodiscover"},
		{name: "no user", url: func(s *smtptest.Server) string { return "smtp://" + s.Addr() }, wantErr: "authenticate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.WithAuth("alice", "s3cret"))
			err := newMailer(t, tc.url(srv)).Send(t.Context(), verification)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				srv.Wait(t, 1, 5*time.Second)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want one about %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "guess") {
				t.Errorf("the error shows the password: %v", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func withPassword(srv *smtptest.Server, pass string) string {
	return strings.Replace(srv.URL(), ":s3cret@", ":"+pass+"@", 1)
}

// TestSendTLS: STARTTLS when the server offers it, required or not; a required STARTTLS the
// server does not offer, or a certificate that is not trusted, is an error; smtps:// speaks TLS
// from the start; auto authentication uses PLAIN once in TLS.
func TestSendTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		server  []smtptest.Option
		query   string
		trust   bool
		wantErr string
	}{
		{name: "STARTTLS offered and taken", server: []smtptest.Option{smtptest.WithSTARTTLS()}, trust: true},
		{name: "STARTTLS required and offered", server: []smtptest.Option{smtptest.WithSTARTTLS()}, query: "?starttls=required", trust: true},
		{name: "tls=starttls and offered", server: []smtptest.Option{smtptest.WithSTARTTLS()}, query: "?tls=starttls", trust: true},
		{name: "STARTTLS required, not offered", query: "?starttls=required", trust: true, wantErr: "STARTTLS"},
		{name: "STARTTLS, a certificate not trusted", server: []smtptest.Option{smtptest.WithSTARTTLS()}, wantErr: "certificate"},
		{name: "STARTTLS, verification skipped", server: []smtptest.Option{smtptest.WithSTARTTLS()}, query: "?insecure_skip_verify=true"},
		{name: "smtps", server: []smtptest.Option{smtptest.WithImplicitTLS()}, trust: true},
		{name: "smtps, a certificate not trusted", server: []smtptest.Option{smtptest.WithImplicitTLS()}, wantErr: "certificate"},
		{name: "STARTTLS, auto authentication", server: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("alice", "s3cret")}, trust: true},
		{name: "smtps, auto authentication", server: []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth("alice", "s3cret")}, trust: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tc.server...)
			var opts []smtpmail.Option
			if tc.trust {
				opts = append(opts, smtpmail.WithRootCAs(srv.RootCAs()))
			}
			err := newMailer(t, srv.URL()+tc.query, opts...).Send(t.Context(), verification)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one about %q", err, tc.wantErr)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("%d messages delivered", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.Wait(t, 1, 5*time.Second)[0]; !got.TLS {
				t.Error("the message came without TLS")
			}
		})
	}
}

// TestSendOutage: with the server down Send fails at once, and once it is back Send works
// again.
func TestSendOutage(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	m := newMailer(t, srv.URL(), smtpmail.WithTimeout(2*time.Second))
	srv.Stop()
	start := time.Now()
	if err := m.Send(t.Context(), verification); err == nil {
		t.Fatal("Send to a stopped server succeeded")
	} else if !strings.Contains(err.Error(), srv.Addr()) {
		t.Errorf("error %v; want one naming the server", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Send to a stopped server took %v", took)
	}
	srv.Restart()
	if err := m.Send(t.Context(), verification); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, 1, 5*time.Second)
}

// stalling listens on a free port, accepts connections and never answers: a server that
// hangs.
func stalling(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return "smtp://" + ln.Addr().String()
}

// TestSendGivesUp: against a server that hangs, Send returns when its timeout is up, or when
// the caller's context ends, whichever comes first.
func TestSendGivesUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		timeout    time.Duration
		ctx        func(context.Context) (context.Context, context.CancelFunc)
		want       time.Duration
		wantCtxErr error
	}{
		{name: "the timeout", timeout: 300 * time.Millisecond, ctx: func(ctx context.Context) (context.Context, context.CancelFunc) { return ctx, func() {} }, want: 300 * time.Millisecond},
		{name: "the caller's deadline", timeout: time.Minute, ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 300*time.Millisecond)
		}, want: 300 * time.Millisecond},
		{name: "the caller's cancellation", timeout: time.Minute, ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, want: 300 * time.Millisecond, wantCtxErr: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newMailer(t, stalling(t), smtpmail.WithTimeout(tc.timeout))
			ctx, cancel := tc.ctx(t.Context())
			defer cancel()
			start := time.Now()
			err := m.Send(ctx, verification)
			took := time.Since(start)
			if err == nil {
				t.Fatal("Send to a hanging server succeeded")
			}
			if took < tc.want-50*time.Millisecond || took > tc.want+2*time.Second {
				t.Errorf("Send gave up after %v; want about %v", took, tc.want)
			}
			if tc.wantCtxErr != nil && !errors.Is(err, tc.wantCtxErr) {
				t.Errorf("error %v; want one that is %v", err, tc.wantCtxErr)
			}
		})
	}
}

// TestSendConcurrently: one Mailer, many goroutines (run with -race).
func TestSendConcurrently(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithAuth("alice", "s3cret"))
	m := newMailer(t, srv.URL()+"?auth=plain")
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			msg := verification
			msg.To = fmt.Sprintf("user%d@example.com", i)
			errs <- m.Send(t.Context(), msg)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for _, got := range srv.Wait(t, n, 5*time.Second) {
		seen[got.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("recipients %v; want %d different ones", seen, n)
	}
}

// TestSendRefusesABadMessage: a message that cannot be built is an error before any
// connection.
func TestSendRefusesABadMessage(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	m := newMailer(t, srv.URL())
	for _, msg := range []ports.Message{
		{To: "not an address", Subject: "s", Text: "t"},
		{To: "ann@example.com", Subject: "s"},
	} {
		if err := m.Send(t.Context(), msg); err == nil {
			t.Errorf("Send(%+v) succeeded", msg)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// TestSendSaysWhenTheRecipientIsRefusedForGood: a 5xx to RCPT TO is ErrRejected (the sender
// stops trying); a server that is down is not.
func TestSendSaysWhenTheRecipientIsRefusedForGood(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithUnknownRecipients("ann@example.com"))
	m := newMailer(t, srv.URL())
	if err := m.Send(t.Context(), verification); !errors.Is(err, ports.ErrRejected) {
		t.Fatalf("an unknown mailbox: %v", err)
	}
	other := verification
	other.To = "bob@example.com"
	if err := m.Send(t.Context(), other); err != nil {
		t.Fatalf("a known mailbox: %v", err)
	}
	srv.Stop()
	if err := m.Send(t.Context(), other); err == nil || errors.Is(err, ports.ErrRejected) {
		t.Fatalf("the server down: %v", err)
	}
}
