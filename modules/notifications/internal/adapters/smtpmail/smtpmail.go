// Package smtpmail sends the service's mail through the SMTP server that SMTP_URL names: one
// connection per message, in TLS when the server offers STARTTLS (or from the start, with
// smtps://), authenticated when the URL has a user. New describes the URL.
package smtpmail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/acme/userservice/modules/notifications/internal/adapters/mailmsg"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

// DefaultTimeout bounds a Send that WithTimeout does not bound otherwise: connecting, the
// SMTP conversation and the delivery of the message together.
const DefaultTimeout = 10 * time.Second

var _ ports.Mailer = (*Mailer)(nil)

// Mailer sends messages through an SMTP server. Each Send opens a connection, delivers one
// message and closes it: the service sends little mail, and a connection held open would have
// to be watched for the server closing it. It is safe for concurrent use: it holds only its
// configuration.
type Mailer struct {
	host        string
	port        int
	implicitTLS bool
	policy      gomail.TLSPolicy
	tlsConfig   *tls.Config
	user, pass  string
	auth        gomail.SMTPAuthType // "" without a user
	from        *mail.Address
	timeout     time.Duration
}

// Option configures a Mailer.
type Option func(*Mailer)

// WithTimeout bounds each Send to d instead of DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(m *Mailer) { m.timeout = d } }

// WithRootCAs verifies the server's certificate against roots instead of the system's: for a
// server with a certificate of its own making, such as a test's.
func WithRootCAs(roots *x509.CertPool) Option {
	return func(m *Mailer) { m.tlsConfig.RootCAs = roots }
}

// usage is what an SMTP_URL looks like, for the errors.
const usage = "want smtp://[user:password@]host[:port] or smtps://..., the password percent-encoded"

// New returns a Mailer that sends through the server of smtpURL (the SMTP_URL setting) as
// from (the MAIL_FROM setting). Its errors name the setting at fault and never quote the
// password. The URL:
//
//	smtp://[user:password@]host[:port][?parameters]   port 587 by default; STARTTLS
//	smtps://[user:password@]host[:port][?parameters]  port 465 by default; TLS from the start
//
// Over smtp://, the connection turns to TLS when the server offers STARTTLS, and stays plain
// when it does not (a local relay, a development mail catcher); starttls=required (or
// tls=starttls) refuses a server that does not offer it. Certificates are verified against the
// system's roots. Characters of the user or password that mean something in a URL
// (: / ? # @ % and the like) must be percent-encoded. Parameters:
//
//	starttls=required|opportunistic  smtp:// only; opportunistic by default
//	tls=starttls                     the same as starttls=required
//	auth=auto|plain|login            how to authenticate, when the URL has a user: auto (the
//	                                 default) picks the strongest mechanism the server offers
//	                                 and, on a connection without TLS, never one that sends
//	                                 the password as it is (PLAIN, LOGIN); plain and login use
//	                                 that mechanism, still never without TLS except to the
//	                                 local host
//	insecure_skip_verify=true        accept any certificate: for development only, it lets
//	                                 anyone in between read the mail and the password
//
// The sender is an argument of its own rather than a parameter: it is the service's
// identity, which the development mailer (devmail) needs as well.
func New(smtpURL, from string, opts ...Option) (*Mailer, error) {
	sender, err := mailmsg.ParseFrom(from)
	if err != nil {
		return nil, err
	}
	m, err := parse(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	m.from, m.timeout = sender, DefaultTimeout
	for _, o := range opts {
		o(m)
	}
	if m.timeout <= 0 {
		return nil, fmt.Errorf("smtpmail: timeout %v: it must be positive", m.timeout)
	}
	return m, nil
}

func parse(raw string) (*Mailer, error) {
	if raw == "" {
		return nil, errors.New("empty: " + usage)
	}
	if misplacedAt(raw) {
		return nil, errors.New("an @ after the host: a password's / ? and # must be percent-encoded, and the sender is MAIL_FROM, not a parameter; " + usage)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's reasons quote the part of the URL at fault, which can be a piece of the
		// password: give them only for a URL without one.
		var ue *url.Error
		if !strings.Contains(raw, "@") && errors.As(err, &ue) {
			return nil, fmt.Errorf("not a URL: %w; %s", ue.Err, usage)
		}
		return nil, errors.New("not a URL: " + usage)
	}
	// Opportunistic for smtps:// too: a server offers no STARTTLS once in TLS, and go-mail
	// then reads the connection's TLS state, which auto authentication goes by (with NoTLS it
	// would not, and would take the connection for a plain one).
	m := &Mailer{policy: gomail.TLSOpportunistic}
	switch u.Scheme {
	case "smtp":
		m.port = gomail.DefaultPortTLS
	case "smtps":
		m.port, m.implicitTLS = gomail.DefaultPortSSL, true
	default:
		return nil, fmt.Errorf("scheme %q: %s", u.Scheme, usage)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("no host: " + usage)
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return nil, errors.New("a path or fragment after the host: " + usage)
	}
	m.host = u.Hostname()
	if p := u.Port(); p != "" {
		if m.port, err = strconv.Atoi(p); err != nil || m.port < 1 || m.port > 65535 {
			return nil, fmt.Errorf("port %q: it must be a number from 1 to 65535", p)
		}
	}
	m.tlsConfig = &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	if u.User != nil {
		pass, ok := u.User.Password()
		if !ok || u.User.Username() == "" {
			return nil, errors.New("a user without a password, or a password without a user: " + usage)
		}
		m.user, m.pass, m.auth = u.User.Username(), pass, gomail.SMTPAuthAutoDiscover
	}
	if err := m.parameters(u.Query()); err != nil {
		return nil, err
	}
	return m, nil
}

// misplacedAt reports whether raw has an @ after its host, as a password with an unencoded
// / ? or # gives: url.Parse takes the password's rest for a path, query or fragment, where
// whatever shows them (an error, Server) would show it. An address in a parameter looks the
// same and is refused with it: no parameter takes one.
func misplacedAt(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	i := strings.IndexAny(rest, "/?#")
	return i >= 0 && strings.Contains(rest[i:], "@")
}

func (m *Mailer) parameters(q url.Values) error {
	for key, values := range q {
		if len(values) != 1 {
			return fmt.Errorf("parameter %s given %d times", key, len(values))
		}
		v := values[0]
		switch key {
		case "starttls", "tls":
			required, ok := map[string]bool{"starttls=required": true, "starttls=opportunistic": false, "tls=starttls": true}[key+"="+v]
			if !ok {
				return fmt.Errorf("%s=%s: want starttls=required, starttls=opportunistic or tls=starttls", key, v)
			}
			if m.implicitTLS {
				return fmt.Errorf("%s=%s: smtps:// speaks TLS from the start; STARTTLS is for smtp://", key, v)
			}
			if required {
				m.policy = gomail.TLSMandatory
			} else if len(q["tls"]) > 0 {
				return errors.New("starttls=opportunistic and tls=starttls disagree")
			}
		case "auth":
			if m.user == "" {
				return fmt.Errorf("auth=%s without a user in the URL", v)
			}
			switch v {
			case "auto":
			case "plain":
				m.auth = gomail.SMTPAuthPlain
			case "login":
				m.auth = gomail.SMTPAuthLogin
			default:
				return fmt.Errorf("auth=%s: want auto, plain or login", v)
			}
		case "insecure_skip_verify":
			skip, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("insecure_skip_verify=%s: want true or false", v)
			}
			m.tlsConfig.InsecureSkipVerify = skip
		default:
			return fmt.Errorf("unknown parameter %q: known are starttls, tls, auth and insecure_skip_verify", key)
		}
	}
	return nil
}

// Server is the host:port of SMTP_URL's server (its default port when the URL has none),
// without credentials, for a log.
func Server(smtpURL string) string {
	m, err := parse(smtpURL)
	if err != nil {
		return "(SMTP_URL not valid)"
	}
	return net.JoinHostPort(m.host, strconv.Itoa(m.port))
}

// Send implements ports.Mailer. The message is delivered once the server has accepted its
// content; Send then returns nil even if closing the connection fails, since a retry would
// deliver it twice.
func (m *Mailer) Send(ctx context.Context, msg ports.Message) error {
	gm, err := mailmsg.New(m.from, msg, time.Now())
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.send(ctx, gm); err != nil {
		addr := net.JoinHostPort(m.host, strconv.Itoa(m.port))
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() && se.ErrorCode() >= 500 {
			// A 5xx to RCPT TO: the mailbox is refused for good, not for now.
			return fmt.Errorf("smtpmail: %s: %w: %w", addr, ports.ErrRejected, err)
		}
		if cerr := ctx.Err(); cerr != nil {
			// The connection was cut because ctx ended: say so, in a way errors.Is finds.
			return fmt.Errorf("smtpmail: %s: %w: %w", addr, cerr, err)
		}
		return fmt.Errorf("smtpmail: %s: %w", addr, err)
	}
	return nil
}

func (m *Mailer) send(ctx context.Context, gm *gomail.Msg) error {
	deadline, _ := ctx.Deadline()
	opts := []gomail.Option{
		gomail.WithPort(m.port),
		gomail.WithTLSPolicy(m.policy),
		gomail.WithTLSConfig(m.tlsConfig),
		gomail.WithDialContextFunc(m.dialer(ctx)),
		// go-mail watches ctx only while it dials; this bounds each of its reads and writes
		// by what is left, and the dialer cuts the connection when ctx ends.
		gomail.WithTimeout(max(time.Until(deadline), time.Millisecond)),
	}
	if m.auth != "" {
		opts = append(opts, gomail.WithSMTPAuth(m.auth), gomail.WithUsername(m.user), gomail.WithPassword(m.pass))
	}
	// A client per Send: go-mail's Client keeps state of its own (the connection, the chosen
	// authentication), and a fresh one costs nothing next to a connection.
	c, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	if err := c.SendWithSMTPClient(sc, gm); err != nil {
		return err
	}
	_ = c.CloseWithSMTPClient(sc) // delivered already: see Send
	return nil
}

// dialer returns the DialContextFunc of a Send with ctx. It dials host and port itself, since
// go-mail joins them in a way that breaks IPv6 addresses, and starts TLS at once for smtps://
// (go-mail then finds the connection encrypted, so auto authentication may choose PLAIN).
// The connection is closed when ctx ends, which is always by the end of the Send: a cancelled
// or late Send stops at once, and a connection that go-mail gives up on while greeting,
// starting TLS or authenticating, which it does not close, does not stay open.
func (m *Mailer) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dctx context.Context, network, _ string) (net.Conn, error) {
		addr := net.JoinHostPort(m.host, strconv.Itoa(m.port))
		var conn net.Conn
		var err error
		if m.implicitTLS {
			conn, err = (&tls.Dialer{Config: m.tlsConfig}).DialContext(dctx, network, addr)
		} else {
			conn, err = (&net.Dialer{}).DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
}
