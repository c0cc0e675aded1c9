package devmail_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/modules/notifications/internal/adapters/devmail"
	"github.com/acme/userservice/modules/notifications/internal/adapters/smtptest"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

const (
	from  = "Acme <no-reply@acme.test>"
	token = "tok-7c1e9b"
)

var reset = ports.Message{
	To:      "ann@example.com",
	Subject: "Reset your password",
	Text:    "Open https://app.test/reset?token=" + token + " within an hour.\n",
	HTML:    `<p><a href="https://app.test/reset?token=` + token + `">Reset your password</a></p>`,
}

func newMailer(t *testing.T, dir string) (*devmail.Mailer, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	m, err := devmail.New(from, dir, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

// TestSendLogsRecipientAndSubjectOnly: one line per message, with the recipient and subject
// (and the file the message is in, when it is kept) and nothing of the body, where the token is.
func TestSendLogsRecipientAndSubjectOnly(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", "mail"} {
		t.Run("dir="+dir, func(t *testing.T) {
			t.Parallel()
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			m, logs := newMailer(t, dir)
			start := logs.Len()
			for range 2 {
				if err := m.Send(t.Context(), reset); err != nil {
					t.Fatal(err)
				}
			}
			sent := logs.All()[start:]
			if len(sent) != 2 {
				t.Fatalf("%d log lines for 2 messages", len(sent))
			}
			for _, e := range sent {
				fields := e.ContextMap()
				want := 2 // to and subject; and the file, when there is one
				if dir != "" {
					want = 3
					file, _ := fields["file"].(string)
					if filepath.Dir(file) != dir || !emlName.MatchString(filepath.Base(file)) {
						t.Errorf("logged file %q, not a message of %s", file, dir)
					} else if _, err := os.Stat(file); err != nil {
						t.Error(err)
					}
				}
				if e.Level != zapcore.InfoLevel || len(fields) != want || fields["to"] != reset.To || fields["subject"] != reset.Subject {
					t.Errorf("logged %s %q %v; want info with to, subject and file only", e.Level, e.Message, fields)
				}
			}
			for _, e := range logs.All() {
				if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, token) || strings.Contains(line, "https://") {
					t.Errorf("a log line shows the body: %s", line)
				}
			}
		})
	}
}

var emlName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[a-z2-7]{10}\.eml$`)

// TestSendWritesTheMessage: with a directory, which it creates, every message is a file of
// its own there, for the user only, named so that a listing sorts by time, and a mail reader
// finds in it the message that SMTP would have carried.
func TestSendWritesTheMessage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var", "mail")
	m, _ := newMailer(t, dir)
	const n = 3
	for i := range n {
		msg := reset
		msg.To = fmt.Sprintf("user%d@example.com", i)
		if err := m.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, %v; want mode 0700", fi, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%d files for %d messages", len(entries), n)
	}
	for i, e := range entries { // ReadDir sorts by name: by time
		if !emlName.MatchString(e.Name()) {
			t.Errorf("file name %q", e.Name())
		}
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", e.Name(), fi, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := smtptest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if to := fmt.Sprintf("<user%d@example.com>", i); got.Header.Get("To") != to {
			t.Errorf("%s: To %q; want %s (files out of order?)", e.Name(), got.Header.Get("To"), to)
		}
		if got.Header.Get("From") != `"Acme" <no-reply@acme.test>` || got.Subject != reset.Subject || got.HTML != reset.HTML ||
			!strings.Contains(got.Text, token) || got.Header.Get("Date") == "" || got.Header.Get("Message-ID") == "" {
			t.Errorf("%s: %+v", e.Name(), got)
		}
		if links := got.Links(); !slices.Equal(links, []string{"https://app.test/reset?token=" + token}) {
			t.Errorf("%s: links %q", e.Name(), links)
		}
		// A developer reads the file as it is: the link is whole in it, not quoted-printable.
		if n := bytes.Count(raw, []byte("https://app.test/reset?token="+token)); n != 2 {
			t.Errorf("%s: the link is whole %d times in the file, want 2 (text and HTML)", e.Name(), n)
		}
	}
}

// TestSendWithoutDirWritesNothing: without a directory, nothing is written, not even in the
// working directory. Not parallel: it changes the working directory.
func TestSendWithoutDirWritesNothing(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	m, _ := newMailer(t, "")
	if err := m.Send(t.Context(), reset); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(wd); err != nil || len(entries) != 0 {
		t.Fatalf("working directory: %v, %v; want it empty", entries, err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, dir, wantErr string
	}{
		{"no sender", "", "", "MAIL_FROM: missing"},
		{"a sender that is no address", "no-reply", "", "MAIL_FROM: "},
		{"a directory that cannot be", from, filepath.Join(file, "mail"), "MAIL_DIR: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := devmail.New(tc.from, tc.dir, zap.NewNop())
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want one starting %q", err, tc.wantErr)
			}
		})
	}
}

// TestSendRefusesABadMessage: a message that SMTP would refuse is refused here too, and
// neither logged nor written.
func TestSendRefusesABadMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, logs := newMailer(t, dir)
	start := logs.Len()
	if err := m.Send(t.Context(), ports.Message{To: "ann", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("a message to no address was taken")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || logs.Len() != start {
		t.Fatalf("%d files, %d log lines", len(entries), logs.Len()-start)
	}
	// Without a directory the message is not built, but it is refused alike.
	nodir, nologs := newMailer(t, "")
	start = nologs.Len()
	for _, bad := range []ports.Message{{To: "ann", Subject: "s", Text: "t"}, {To: "ann@example.com", Subject: "s"}} {
		if err := nodir.Send(t.Context(), bad); err == nil {
			t.Fatalf("without a directory, %+v was taken", bad)
		}
	}
	if nologs.Len() != start {
		t.Fatalf("%d log lines of refused messages", nologs.Len()-start)
	}
}
