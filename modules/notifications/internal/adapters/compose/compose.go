// Package compose writes the notifications module's mails from templates: a text and an HTML
// part per purpose (templates/), with links under the service's public base URL.
package compose

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

//go:embed templates
var files embed.FS

// Paths are where the links of each purpose point, under the public base URL: the pages of the
// application that take the token and call the API (POST /auth/verify-email, POST
// /auth/password-reset/confirm).
var Paths = map[domain.Purpose]string{
	domain.PurposeVerifyEmail:   "/verify-email",
	domain.PurposeResetPassword: "/reset-password",
}

// Composer writes mails from the embedded templates.
type Composer struct {
	base *url.URL
	text map[domain.Purpose]*texttemplate.Template
	html map[domain.Purpose]*htmltemplate.Template
}

var _ ports.Composer = (*Composer)(nil)

// New returns a Composer whose links start with publicBaseURL (such as
// https://app.example.com).
func New(publicBaseURL string) (*Composer, error) {
	base, err := url.Parse(publicBaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("PUBLIC_BASE_URL %q is not an http(s) URL with a host", publicBaseURL)
	}
	c := &Composer{base: base, text: map[domain.Purpose]*texttemplate.Template{}, html: map[domain.Purpose]*htmltemplate.Template{}}
	for p := range Paths {
		if c.text[p], err = texttemplate.ParseFS(files, "templates/"+string(p)+".txt"); err != nil {
			return nil, err
		}
		if c.html[p], err = htmltemplate.ParseFS(files, "templates/"+string(p)+".html"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Compose writes the mail of the purpose to a, with the link carrying token.
func (c *Composer) Compose(p domain.Purpose, a ports.Account, token string, expires time.Time) (ports.Message, error) {
	text, html := c.text[p], c.html[p]
	if text == nil {
		return ports.Message{}, fmt.Errorf("compose: no template for %q", p)
	}
	link := *c.base
	link.Path = strings.TrimSuffix(link.Path, "/") + Paths[p]
	link.RawQuery = url.Values{"token": {token}}.Encode()
	data := struct{ Username, Email, Link, Expires string }{
		a.Username, a.Email, link.String(), expires.UTC().Format("2 January 2006, 15:04 MST"),
	}
	var subject, body, page bytes.Buffer
	if err := text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return ports.Message{}, err
	}
	if err := text.Execute(&body, data); err != nil {
		return ports.Message{}, err
	}
	if err := html.Execute(&page, data); err != nil {
		return ports.Message{}, err
	}
	return ports.Message{To: a.Email, Subject: subject.String(), Text: body.String(), HTML: page.String()}, nil
}
