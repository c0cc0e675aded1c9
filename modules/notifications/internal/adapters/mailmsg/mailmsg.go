// Package mailmsg turns a ports.Message into the MIME message the adapters deliver, so that a
// message written to disk in development (devmail) has the same shape as one sent through SMTP
// (smtpmail): From, To, Subject, Date, Message-ID, a text/plain body and, when the message has
// HTML, a multipart/alternative of both.
package mailmsg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/acme/userservice/modules/notifications/internal/ports"
)

// ParseFrom parses the sender address of the service's mail (the MAIL_FROM setting), such as
// "no-reply@example.com" or "Example <no-reply@example.com>". Its error names the setting.
func ParseFrom(s string) (*mail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("MAIL_FROM: missing: the sender address of the service's mail is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM: %q is not an email address: %w", s, err)
	}
	return a, nil
}

// New builds the message m from from, dated date. Options, such as a transfer encoding, come
// after the message's own.
func New(from *mail.Address, m ports.Message, date time.Time, opts ...gomail.MsgOption) (*gomail.Msg, error) {
	to, err := recipient(m)
	if err != nil {
		return nil, err
	}
	// No User-Agent/X-Mailer: which library and version we run is nobody's business.
	msg := gomail.NewMsg(append([]gomail.MsgOption{gomail.WithNoDefaultUserAgent()}, opts...)...)
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	// go-mail encodes a subject holding control characters as an RFC 2047 word, so a CR LF in
	// it cannot start a header of its own.
	msg.Subject(m.Subject)
	msg.SetDateWithValue(date)
	msg.SetMessageIDWithValue(messageID(from))
	// RFC 3834: out-of-office and other automatic replies are not sent back to automatic mail.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Check returns the error New would return for m, without building the message: for a mailer
// that sends nothing (devmail without a directory), which refuses what SMTP would refuse.
func Check(m ports.Message) error {
	_, err := recipient(m)
	return err
}

// recipient returns m's recipient, or why m cannot be sent. The recipient is parsed here rather
// than by go-mail, and net/mail's reason left out, so that the error does not quote the
// address: errors end up in logs, addresses are personal data.
func recipient(m ports.Message) (*mail.Address, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, errors.New("mail message: the recipient is not one email address")
	}
	if m.Text == "" {
		return nil, errors.New("mail message: no text body")
	}
	return to, nil
}

// messageID returns a new Message-ID (without its angle brackets) in the sender's domain rather
// than the machine's host name, which would leak the name of the container that sent it.
func messageID(from *mail.Address) string {
	return rand.Text() + "@" + from.Address[strings.LastIndexByte(from.Address, '@')+1:]
}
