package smtptest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
)

// crlf writes a message as it travels: lines end in CR LF.
func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n")) }

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		raw                 []byte
		subject, text, html string
		wantErr             string
	}{
		{
			name: "multipart/alternative, quoted-printable, encoded subject",
			raw: crlf(
				"From: <no-reply@acme.test>",
				"To: <ann@example.com>",
				"Subject: =?UTF-8?q?Best=C3=A4tigen_Sie?=",
				"MIME-Version: 1.0",
				`Content-Type: multipart/alternative; boundary="b1"`,
				"",
				"--b1",
				"Content-Type: text/plain; charset=UTF-8",
				"Content-Transfer-Encoding: quoted-printable",
				"",
				"Gr=C3=BC=C3=9Fe! Open https://app.test/verify?token=3Dabc&next=3D%2F. Th=",
				"anks",
				"--b1",
				"Content-Type: text/html; charset=UTF-8",
				"Content-Transfer-Encoding: quoted-printable",
				"",
				`<a href=3D"https://app.test/verify?token=3Dabc&amp;next=3D%2F">verify</a>`,
				"--b1--",
				"",
			),
			subject: "Bestätigen Sie",
			text:    "Grüße! Open https://app.test/verify?token=abc&next=%2F. Thanks",
			html:    `<a href="https://app.test/verify?token=abc&amp;next=%2F">verify</a>`,
		},
		{
			name: "base64 parts in a mixed message, the attachment skipped",
			raw: crlf(
				"Subject: plain",
				`Content-Type: multipart/mixed; boundary="outer"`,
				"",
				"--outer",
				`Content-Type: multipart/alternative; boundary="inner"`,
				"",
				"--inner",
				"Content-Type: text/plain; charset=utf-8",
				"Content-Transfer-Encoding: base64",
				"",
				"aGVsbG8g", // line breaks inside base64 are not part of it
				"d29ybGQ=",
				"--inner",
				"Content-Type: text/html",
				"Content-Transfer-Encoding: base64",
				"",
				"PHA+aGk8L3A+",
				"--inner--",
				"--outer",
				"Content-Type: text/plain",
				"Content-Disposition: attachment; filename=notes.txt",
				"",
				"not the body",
				"--outer--",
				"",
			),
			subject: "plain",
			text:    "hello world",
			html:    "<p>hi</p>",
		},
		{
			name:    "one part, no MIME header",
			raw:     crlf("Subject: hi", "", "just text", ""),
			subject: "hi",
			text:    "just text\r\n",
		},
		{
			name:    "another charset",
			raw:     crlf("Content-Type: text/plain; charset=ISO-8859-1", "", "caf\xe9"),
			wantErr: "charset",
		},
		{
			name:    "unknown transfer encoding",
			raw:     crlf("Content-Type: text/plain", "Content-Transfer-Encoding: x-uuencode", "", "x"),
			wantErr: "transfer encoding",
		},
		{
			name:    "broken base64",
			raw:     crlf("Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "a!b?"),
			wantErr: "base64",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := smtptest.Parse(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject || m.Text != tc.text || m.HTML != tc.html {
				t.Errorf("got subject %q, text %q, HTML %q;\nwant %q, %q, %q", m.Subject, m.Text, m.HTML, tc.subject, tc.text, tc.html)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		text, html string
		want       []string
	}{
		{
			name: "the same link in text and HTML, once",
			text: "Open https://app.test/verify?token=abc&next=%2F.",
			html: `<a href="https://app.test/verify?token=abc&amp;next=%2F">verify</a>`,
			want: []string{"https://app.test/verify?token=abc&next=%2F"},
		},
		{
			name: "in order, text first; punctuation after a link in text is not part of it",
			text: "First (https://a.test/1), then <https://a.test/2>; and http://a.test/3!",
			html: `<p><a href='https://a.test/4'>four</a> https://a.test/1</p>`,
			want: []string{"https://a.test/1", "https://a.test/2", "http://a.test/3", "https://a.test/4"},
		},
		{
			name: "no links; other schemes are not links",
			text: "mailto:ann@example.com ftp://a.test/x",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := (&smtptest.Mail{Text: tc.text, HTML: tc.html}).Links()
			if !slices.Equal(got, tc.want) {
				t.Errorf("Links() = %q; want %q", got, tc.want)
			}
		})
	}
}
