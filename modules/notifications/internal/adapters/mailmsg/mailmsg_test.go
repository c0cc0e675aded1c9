package mailmsg_test

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/acme/userservice/modules/notifications/internal/adapters/mailmsg"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

func TestParseFrom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "no-reply@acme.test", want: "<no-reply@acme.test>"},
		{in: "Acme <no-reply@acme.test>", want: `"Acme" <no-reply@acme.test>`},
		{in: "", wantErr: "MAIL_FROM: missing"},
		{in: "  ", wantErr: "MAIL_FROM: missing"},
		{in: "acme.test", wantErr: `MAIL_FROM: "acme.test" is not an email address`},
		{in: "a@b.test, c@d.test", wantErr: "MAIL_FROM: "},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			a, err := mailmsg.ParseFrom(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || a.String() != tc.want {
				t.Fatalf("ParseFrom(%q) = %v, %v; want %s", tc.in, a, err, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	from, err := mailmsg.ParseFrom("Acme <no-reply@acme.test>")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 11, 30, 13, 30, 0, 0, time.FixedZone("", 3600))
	for _, tc := range []struct {
		name        string
		msg         ports.Message
		contentType string
	}{
		{
			name:        "text only",
			msg:         ports.Message{To: "ann@example.com", Subject: "Reset your password", Text: "Open https://app.test/reset?token=t1\n"},
			contentType: "text/plain; charset=UTF-8",
		},
		{
			name: "text and HTML, not ASCII, a line longer than SMTP allows",
			msg: ports.Message{
				To: "Ann Example <ann@example.com>", Subject: "Bestätigen Sie",
				Text: "Grüße, " + strings.Repeat("long ", 300) + "\n",
				HTML: `<p>Grüße, <a href="https://app.test/verify?token=t2&amp;x=1">bestätigen</a></p>`,
			},
			contentType: "multipart/alternative;",
		},
		{
			name:        "a subject that tries to add a header",
			msg:         ports.Message{To: "ann@example.com", Subject: "Hi\r\nBcc: eve@evil.test", Text: "t"},
			contentType: "text/plain;",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gm, err := mailmsg.New(from, tc.msg, date)
			if err != nil {
				t.Fatal(err)
			}
			var raw bytes.Buffer
			if _, err := gm.WriteTo(&raw); err != nil {
				t.Fatal(err)
			}
			for line := range strings.SplitSeq(raw.String(), "\r\n") {
				if len(line) > 998 {
					t.Fatalf("a line of %d characters; SMTP allows 998", len(line))
				}
			}
			m, err := smtptest.Parse(raw.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			wantTo, _ := mail.ParseAddress(tc.msg.To)
			for _, h := range []struct{ name, want string }{
				{"From", `"Acme" <no-reply@acme.test>`},
				{"To", wantTo.String()},
				{"Date", "Mon, 30 Nov 2026 13:30:00 +0100"},
				{"Auto-Submitted", "auto-generated"},
				{"Bcc", ""},
				{"User-Agent", ""},
				{"X-Mailer", ""},
			} {
				got := m.Header.Get(h.name)
				if h.name == "From" || h.name == "To" {
					if a, err := mail.ParseAddress(got); err == nil {
						got = a.String()
					}
				}
				if got != h.want {
					t.Errorf("%s: %q; want %q", h.name, got, h.want)
				}
			}
			if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@acme.test>") || len(id) < 30 {
				t.Errorf("Message-ID %q; want a long random one in the sender's domain", id)
			}
			if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q; want %s...", ct, tc.contentType)
			}
			if m.Subject != tc.msg.Subject {
				t.Errorf("Subject %q; want %q", m.Subject, tc.msg.Subject)
			}
			if normalize(m.Text) != normalize(tc.msg.Text) || m.HTML != tc.msg.HTML {
				t.Errorf("text %q, HTML %q;\nwant %q, %q", m.Text, m.HTML, tc.msg.Text, tc.msg.HTML)
			}
		})
	}
}

// normalize undoes what the trip through a message does to a text: CR LF line ends, and a
// line end added at the end.
func normalize(s string) string { return strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }

func TestNewMessageIDsDiffer(t *testing.T) {
	t.Parallel()
	from, _ := mailmsg.ParseFrom("no-reply@acme.test")
	msg := ports.Message{To: "ann@example.com", Subject: "s", Text: "t"}
	a, errA := mailmsg.New(from, msg, time.Now())
	b, errB := mailmsg.New(from, msg, time.Now())
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.GetMessageID() == b.GetMessageID() {
		t.Fatalf("two messages with Message-ID %s", a.GetMessageID())
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	from, _ := mailmsg.ParseFrom("no-reply@acme.test")
	for _, tc := range []struct {
		name    string
		msg     ports.Message
		wantErr string
	}{
		{"a recipient that is no address", ports.Message{To: "ann at example.com", Text: "t"}, "recipient"},
		{"two recipients", ports.Message{To: "ann@example.com, bob@example.com", Text: "t"}, "recipient"},
		{"no text", ports.Message{To: "ann@example.com", HTML: "<p>h</p>"}, "no text body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mailmsg.New(from, tc.msg, time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want one about %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "example.com") {
				t.Errorf("the error quotes the recipient: %v", err)
			}
		})
	}
}
