package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"slices"
	"strings"
)

// Mail is a message's content, decoded.
type Mail struct {
	// Header holds the message's header fields as written (Subject possibly RFC 2047 encoded).
	Header mail.Header
	// Subject is the decoded subject.
	Subject string
	// Text is the first text/plain part that is not an attachment, decoded; HTML the first
	// text/html one. Either is empty when the message has no such part.
	Text, HTML string
}

// Parse parses a message (RFC 5322 with MIME) as the service writes them: UTF-8 text, in one
// part or in a multipart/alternative (or mixed) tree, each part quoted-printable, base64 or
// unencoded.
func Parse(raw []byte) (*Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("smtptest: Subject: %w", err)
	}
	m := &Mail{Header: msg.Header, Subject: subject}
	if err := m.walk(msg.Header, msg.Body); err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	return m, nil
}

// partHeader reads the MIME fields of a part or message header.
type partHeader interface{ Get(key string) string }

// walk collects the text and HTML of the part with header h and body body, descending into
// multiparts.
func (m *Mail) walk(h partHeader, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii" // RFC 2045's default
	}
	mediatype, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediatype, "multipart/") {
		// NextRawPart, not NextPart: NextPart decodes quoted-printable itself but not base64,
		// and decoding is done once, below, for both.
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediatype, err)
			}
			if err := m.walk(p.Header, p); err != nil {
				return err
			}
		}
	}
	if disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition")); disp == "attachment" {
		return nil
	}
	if mediatype != "text/plain" && mediatype != "text/html" {
		return nil
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("%s: charset %q: only UTF-8 is read", mediatype, cs)
	}
	text, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("%s: %w", mediatype, err)
	}
	switch {
	case mediatype == "text/plain" && m.Text == "":
		m.Text = text
	case mediatype == "text/html" && m.HTML == "":
		m.HTML = text
	}
	return nil
}

// decode undoes a part's Content-Transfer-Encoding.
func decode(cte string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // it skips the line breaks
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("unknown transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", cte, err)
	}
	return string(b), nil
}

// link matches a URL in text or HTML: up to a space, a quote or an angle bracket.
var link = regexp.MustCompile(`https?://[^\s"'<>]+`)

// Links returns the http and https URLs in the message's text and HTML, each once, in order
// of appearance (text first). In text, punctuation that ends a sentence after a link is not
// part of it; in HTML, character references are decoded (an href's &amp; is &).
func (m *Mail) Links() []string {
	var out []string
	add := func(u string) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, u := range link.FindAllString(m.Text, -1) {
		add(strings.TrimRight(u, ".,;:!?)]"))
	}
	for _, u := range link.FindAllString(m.HTML, -1) {
		add(html.UnescapeString(u))
	}
	return out
}
