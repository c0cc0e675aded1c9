// Package devmail is the Mailer of development, used when SMTP_URL is unset so that running
// the service needs no mail server: it sends nothing, logs that a message was to be sent and,
// when MAIL_DIR is set, keeps the message there as an .eml file that a mail reader opens, where
// a developer finds the links it carries.
package devmail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.uber.org/zap"

	"github.com/acme/userservice/modules/notifications/internal/adapters/mailmsg"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

var _ ports.Mailer = (*Mailer)(nil)

// Mailer logs messages and, with a directory, writes them there. It is safe for concurrent
// use: every message gets a file of its own.
type Mailer struct {
	from *mail.Address
	dir  string
	log  *zap.Logger
}

// New returns a Mailer that logs to log each message from from (the MAIL_FROM setting) and,
// when dir (the MAIL_DIR setting) is not empty, writes it to dir, which it creates if missing.
// The messages carry single-use tokens: the log has only their recipient and subject, and the
// files are the user's only (0600), as is the directory when New creates it (0700).
func New(from, dir string, log *zap.Logger) (*Mailer, error) {
	sender, err := mailmsg.ParseFrom(from)
	if err != nil {
		return nil, err
	}
	m := &Mailer{from: sender, dir: dir, log: log}
	if dir == "" {
		return m, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("MAIL_DIR: %w", err)
	}
	return m, nil
}

// Send implements ports.Mailer.
func (m *Mailer) Send(ctx context.Context, msg ports.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("devmail: %w", err)
	}
	// Recipient, subject and file only: the body carries a token that whoever reads the log
	// could use.
	fields := []zap.Field{zap.String("to", msg.To), zap.String("subject", msg.Subject)}
	if m.dir == "" {
		// Nothing to write: the message is checked as SMTP would, not built.
		if err := mailmsg.Check(msg); err != nil {
			return fmt.Errorf("devmail: %w", err)
		}
	} else {
		now := time.Now().UTC()
		// 8bit rather than quoted-printable: a file is for a developer to read, and a link
		// split by soft line breaks and "=3D" cannot be copied out of it.
		gm, err := mailmsg.New(m.from, msg, now, gomail.WithEncoding(gomail.NoEncoding))
		if err != nil {
			return fmt.Errorf("devmail: %w", err)
		}
		name, err := m.write(gm, now)
		if err != nil {
			return fmt.Errorf("devmail: %w", err)
		}
		fields = append(fields, zap.String("file", name))
	}
	m.log.Info("devmail: mail not sent", fields...)
	return nil
}

// write writes gm to a new file of the directory and returns its path. The file is named for
// when it was sent (so that a listing sorts by time) and a random part (so that messages of the
// same instant differ). It is written under a temporary name and renamed, so that whoever
// watches the directory never reads half a message.
func (m *Mailer) write(gm *gomail.Msg, sent time.Time) (string, error) {
	// Again at every message: a developer may have emptied the directory by deleting it.
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return "", err
	}
	name := filepath.Join(m.dir, sent.Format("20060102T150405.000000000Z")+"-"+strings.ToLower(rand.Text()[:10])+".eml")
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = gm.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		return "", errors.Join(err, os.Remove(tmp))
	}
	return name, nil
}
