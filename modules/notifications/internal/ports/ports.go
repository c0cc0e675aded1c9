// Package ports declares what the notifications module needs from the outside world to reach
// a user by email. The service depends on Mailer; the adapters implement it: smtpmail sends
// through an SMTP server (SMTP_URL), devmail logs and keeps the messages on disk when no
// server is configured.
package ports

import (
	"context"
	"errors"
)

// ErrRejected is wrapped by a Mailer's error when the mail server refused the recipient for
// good (a mailbox that does not exist): sending again would fail again.
var ErrRejected = errors.New("the mail server refused the recipient for good")

// Message is one email to one recipient.
type Message struct {
	// To is the recipient's address, as RFC 5322 writes it ("ann@example.com" or
	// "Ann <ann@example.com>").
	To string
	// Subject is the subject line.
	Subject string
	// Text is the plain-text body; every message has one, since some readers show nothing
	// else.
	Text string
	// HTML is an optional HTML rendering of Text; when set, the message carries both as
	// alternatives and the reader picks one.
	HTML string
}

// Mailer sends messages.
type Mailer interface {
	// Send hands m over for delivery and returns once the mail system has taken it. It is
	// safe for concurrent use. An error means the message may not have been delivered: the
	// caller retries (a retry may then deliver it twice, which a recipient of a link-bearing
	// message can live with; losing it they cannot).
	Send(ctx context.Context, m Message) error
}
