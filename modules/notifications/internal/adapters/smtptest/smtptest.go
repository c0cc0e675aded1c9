// Package smtptest runs an SMTP server inside a test's process, on a free port of 127.0.0.1,
// and keeps every message it accepts for the test to read, so that tests of the service's mail
// need no mail server on the machine. The test can stop and restart it on the same port (a
// mail outage), require PLAIN authentication, and offer TLS (STARTTLS or implicit) with a
// certificate made for the test. Parse and Links read what arrived. Only tests import it,
// which keeps its SMTP server library out of the service's binary.
package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is a message the server accepted: its envelope and its content as it came over the
// wire.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Data is the message itself, headers and body (RFC 5322).
	Data []byte
	// TLS is whether the message came over TLS (implicit or after STARTTLS).
	TLS bool
}

// Parse parses the message's content; see Parse.
func (m Message) Parse() (*Mail, error) { return Parse(m.Data) }

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer PLAIN authentication and refuse mail from clients that have
// not authenticated as user with password pass. Authentication is allowed without TLS too, as
// a local relay might, so that a test can use it without certificates.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithSTARTTLS makes the server offer STARTTLS, with a self-signed certificate for 127.0.0.1
// and localhost that clients trust through RootCAs.
func WithSTARTTLS() Option { return func(s *Server) { s.tlsMode = startTLS } }

// WithImplicitTLS makes the server speak TLS from the first byte (smtps, as on port 465), with
// a certificate like WithSTARTTLS's.
func WithImplicitTLS() Option { return func(s *Server) { s.tlsMode = implicitTLS } }

// WithUnknownRecipients makes the server refuse mail to the addresses for good, as a server
// does for a mailbox that does not exist (550 5.1.1 at RCPT TO).
func WithUnknownRecipients(addrs ...string) Option {
	return func(s *Server) {
		for _, a := range addrs {
			s.unknown[strings.ToLower(a)] = true
		}
	}
}

type tlsMode int

const (
	noTLS tlsMode = iota
	startTLS
	implicitTLS
)

// Server is an SMTP server of a test.
type Server struct {
	t          testing.TB
	user, pass string
	tlsMode    tlsMode
	tlsConfig  *tls.Config
	roots      *x509.CertPool
	port       int
	// unknown are the recipients refused for good (WithUnknownRecipients).
	unknown map[string]bool

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed, and replaced, when a message arrives: what Wait waits on

	// The running server; nil while stopped. Only the test's goroutine touches these.
	srv    *smtp.Server
	ln     net.Listener
	served chan struct{}
	log    *testLog
}

// Start starts a server, stopped when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, arrived: make(chan struct{}), unknown: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	if s.tlsMode != noTLS {
		cert, roots, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's URL, as the service's SMTP_URL takes it: smtps:// with WithImplicitTLS,
// smtp:// otherwise, with the user and password of WithAuth.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.tlsMode == implicitTLS {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// RootCAs holds the certificate of the server's TLS, for a client to trust; nil without TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Messages returns the messages accepted so far, oldest first, across restarts.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until the server has accepted at least n messages in all and returns them; the
// test fails if that takes longer than timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.msgs), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("smtptest: %d of %d messages arrived within %v", got, n, timeout)
		}
	}
}

// Stop stops the server at once, as a crash would: it no longer accepts connections and the
// open ones are cut. The messages accepted so far stay.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	// Closed here too: go-smtp closes only the listeners its Serve has registered, and a Stop
	// right after a Start can come before that.
	_ = s.ln.Close()
	<-s.served
	s.log.close()
	s.srv = nil
}

// Restart starts the stopped server again on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	if s.srv != nil {
		s.t.Fatal("smtptest: Restart of a running server")
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		s.t.Fatalf("smtptest: restart on %s: %v", s.Addr(), err)
	}
	s.serve(ln)
}

// serve runs a new go-smtp server on ln: a closed go-smtp server cannot serve again.
func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	// A client that stalls must not hold the test's goroutines past its end.
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.log = &testLog{t: s.t}
	srv.ErrorLog = s.log
	switch s.tlsMode {
	case noTLS: // plain SMTP: nothing to add
	case startTLS:
		srv.TLSConfig = s.tlsConfig // the server offers STARTTLS when it has a TLS configuration
	case implicitTLS:
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	s.srv, s.ln, s.served = srv, ln, make(chan struct{})
	go func(served chan struct{}) {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			s.log.Printf("serve: %v", err)
		}
	}(s.served)
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one client connection's SMTP conversation.
type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	if x.s.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.user || pass != x.s.pass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.unknown[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("smtptest: reading the message: %w", err)
	}
	_, secure := x.conn.TLSConnectionState()
	x.s.add(Message{From: x.from, To: x.to, Data: data, TLS: secure})
	return nil
}

func (x *session) Reset() { x.from, x.to = "", nil }

func (x *session) Logout() error { return nil }

// testLog writes go-smtp's errors to the test's log until the server it belongs to stops:
// a test's log must not be written once the test has ended.
type testLog struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (l *testLog) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf("smtptest: "+format, v...)
	}
}

func (l *testLog) Println(v ...any) { l.Printf("%s", fmt.Sprintln(v...)) }

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}
