package smtpmail

import (
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"
)

func TestNewParsesTheURL(t *testing.T) {
	t.Parallel()
	const from = "Acme <no-reply@acme.test>"
	type want struct {
		host        string
		port        int
		implicitTLS bool
		policy      gomail.TLSPolicy
		user, pass  string
		auth        gomail.SMTPAuthType
		skipVerify  bool
	}
	opportunistic := gomail.TLSOpportunistic
	for _, tc := range []struct {
		url, from string
		want      want
		wantErr   string // the error names the setting at fault and holds this
	}{
		{url: "smtp://mail.example.com", want: want{host: "mail.example.com", port: 587, policy: opportunistic}},
		{url: "smtp://mail.example.com:25/", want: want{host: "mail.example.com", port: 25, policy: opportunistic}},
		{url: "SMTP://[::1]:2525", want: want{host: "::1", port: 2525, policy: opportunistic}},
		{url: "smtps://mail.example.com", want: want{host: "mail.example.com", port: 465, implicitTLS: true, policy: opportunistic}},
		{url: "smtps://mail.example.com:4650", want: want{host: "mail.example.com", port: 4650, implicitTLS: true, policy: opportunistic}},
		{url: "smtp://mail.example.com?starttls=required", want: want{host: "mail.example.com", port: 587, policy: gomail.TLSMandatory}},
		{url: "smtp://mail.example.com?tls=starttls", want: want{host: "mail.example.com", port: 587, policy: gomail.TLSMandatory}},
		{url: "smtp://mail.example.com?starttls=required&tls=starttls", want: want{host: "mail.example.com", port: 587, policy: gomail.TLSMandatory}},
		{url: "smtp://mail.example.com?starttls=opportunistic", want: want{host: "mail.example.com", port: 587, policy: opportunistic}},
		{url: "smtp://ann:p%40ss%2Fw:rd@mail.example.com", want: want{host: "mail.example.com", port: 587, policy: opportunistic, user: "ann", pass: "p@ss/w:rd", auth: gomail.SMTPAuthAutoDiscover}},
		{url: "smtp://ann:pw@mail.example.com?auth=plain", want: want{host: "mail.example.com", port: 587, policy: opportunistic, user: "ann", pass: "pw", auth: gomail.SMTPAuthPlain}},
		{url: "smtp://ann:pw@mail.example.com?auth=login", want: want{host: "mail.example.com", port: 587, policy: opportunistic, user: "ann", pass: "pw", auth: gomail.SMTPAuthLogin}},
		{url: "smtp://ann:pw@mail.example.com?auth=auto", want: want{host: "mail.example.com", port: 587, policy: opportunistic, user: "ann", pass: "pw", auth: gomail.SMTPAuthAutoDiscover}},
		{url: "smtp://localhost:1025?insecure_skip_verify=true", want: want{host: "localhost", port: 1025, policy: opportunistic, skipVerify: true}},

		{url: "", wantErr: "SMTP_URL: empty"},
		{url: "mail.example.com", wantErr: "SMTP_URL: scheme"},
		{url: "http://mail.example.com", wantErr: `SMTP_URL: scheme "http"`},
		{url: "smtp://", wantErr: "SMTP_URL: no host"},
		{url: "smtp://:25", wantErr: "SMTP_URL: no host"},
		{url: "smtp:mail.example.com", wantErr: "SMTP_URL: no host"},
		{url: "smtp://mail.example.com:0", wantErr: "SMTP_URL: port"},
		{url: "smtp://mail.example.com:70000", wantErr: "SMTP_URL: port"},
		{url: "smtp://mail.example.com:x", wantErr: "SMTP_URL: not a URL: invalid port"},
		{url: "smtp://mail.example.com/inbox", wantErr: "SMTP_URL: a path"},
		{url: "smtp://ann@mail.example.com", wantErr: "SMTP_URL: a user without a password"},
		{url: "smtp://:pw@mail.example.com", wantErr: "SMTP_URL: a user without a password"},
		{url: "smtp://mail.example.com?auth=plain", wantErr: "SMTP_URL: auth=plain without a user"},
		{url: "smtp://ann:pw@mail.example.com?auth=cram-md5", wantErr: "SMTP_URL: auth=cram-md5"},
		{url: "smtp://mail.example.com?starttls=yes", wantErr: "SMTP_URL: starttls=yes"},
		{url: "smtp://mail.example.com?tls=implicit", wantErr: "SMTP_URL: tls=implicit"},
		{url: "smtp://mail.example.com?starttls=opportunistic&tls=starttls", wantErr: "SMTP_URL: starttls=opportunistic and tls=starttls disagree"},
		{url: "smtps://mail.example.com?starttls=required", wantErr: "SMTP_URL: starttls=required: smtps://"},
		{url: "smtp://mail.example.com?insecure_skip_verify=yes please", wantErr: "SMTP_URL: insecure_skip_verify"},
		{url: "smtp://mail.example.com?from=a@b.test", wantErr: "SMTP_URL: an @ after the host"},
		{url: "smtp://mail.example.com?from=a", wantErr: `SMTP_URL: unknown parameter "from"`},
		{url: "smtp://mail.example.com?auth=plain&auth=login", wantErr: "SMTP_URL: parameter auth given 2 times"},

		{url: "smtp://mail.example.com", from: " ", wantErr: "MAIL_FROM: missing"},
		{url: "smtp://mail.example.com", from: "no-reply", wantErr: `MAIL_FROM: "no-reply" is not an email address`},
		{url: "smtp://mail.example.com", from: "Acme <no-reply@>", wantErr: "MAIL_FROM:"},
	} {
		f, name := from, tc.url
		if strings.HasPrefix(tc.wantErr, "MAIL_FROM") {
			f, name = tc.from, "from "+tc.from
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := New(tc.url, f)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one starting %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("the error has more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{m.host, m.port, m.implicitTLS, m.policy, m.user, m.pass, m.auth, m.tlsConfig.InsecureSkipVerify}
			if got != tc.want {
				t.Errorf("got %+v;\nwant %+v", got, tc.want)
			}
			if m.tlsConfig.ServerName != tc.want.host || m.timeout != DefaultTimeout || m.from.Address != "no-reply@acme.test" {
				t.Errorf("server name %q, timeout %v, from %v", m.tlsConfig.ServerName, m.timeout, m.from)
			}
		})
	}
}

// TestNewNeverQuotesThePassword: however malformed the URL, the error does not show the
// password or a piece of it.
func TestNewNeverQuotesThePassword(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"smtp://ann:Zq7/xK@mail.example.com",    // a / in the password: the rest reads as a path
		"smtp://ann:Zq7?xK@mail.example.com",    // a ?: as a query
		"smtp://ann:Zq7#xK@mail.example.com",    // a #: as a fragment
		"smtp://ann:Zq7%zzxK@mail.example.com",  // a % that is no escape
		"smtp://ann:Zq7xK@mail.example.com:x",   // a bad port after a good password
		"smtp://ann:Zq7xK@mail.example.com/a",   // a path after a good password
		"smtp://ann:Zq7xK@mail.example.com?a=b", // an unknown parameter
		"ftp://ann:Zq7xK@mail.example.com",      // a bad scheme
		"smtp://ann:Zq7xK@",                     // no host
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			_, err := New(url, "no-reply@acme.test")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "Zq7") || strings.Contains(err.Error(), "xK") {
				t.Errorf("the error quotes the password: %v", err)
			}
			if r := Server(url); strings.Contains(r, "Zq7") || strings.Contains(r, "xK") {
				t.Errorf("Server shows the password: %q", r)
			}
		})
	}
}

// TestServer: the start-up log names the mail server by host and port, never with the
// user's password.
func TestServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"smtp://ann:s3cret@mail.example.com:2525?starttls=required", "mail.example.com:2525"},
		{"smtps://ann:p%40ss@mail.example.com", "mail.example.com:465"},
		{"smtp://mail.example.com", "mail.example.com:587"},
		{"smtp://ann:s3/cret@mail.example.com", "(SMTP_URL not valid)"},
		{"smtp:ann:s3cret@mail.example.com", "(SMTP_URL not valid)"},
		{"smtp://ann:s3%zzcret@mail.example.com", "(SMTP_URL not valid)"},
	} {
		if got := Server(tc.url); got != tc.want {
			t.Errorf("Server(%q) = %q; want %q", tc.url, got, tc.want)
		}
	}
}

func TestWithTimeout(t *testing.T) {
	t.Parallel()
	m, err := New("smtp://mail.example.com", "no-reply@acme.test", WithTimeout(3*time.Second))
	if err != nil || m.timeout != 3*time.Second {
		t.Fatalf("timeout %v, %v; want 3s", m, err)
	}
	if _, err := New("smtp://mail.example.com", "no-reply@acme.test", WithTimeout(0)); err == nil {
		t.Fatal("a timeout of 0 was taken")
	}
}
