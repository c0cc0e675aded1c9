package compose_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/adapters/compose"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
)

func TestComposeWritesTheLinkInBothParts(t *testing.T) {
	t.Parallel()
	c, err := compose.New("https://app.example.com/base/")
	if err != nil {
		t.Fatal(err)
	}
	a := ports.Account{ID: uuid.New(), Username: "ann<script>", Email: "ann@example.com"}
	for purpose, path := range compose.Paths {
		m, err := c.Compose(purpose, a, "tok-en_1", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		link := "https://app.example.com/base" + path + "?token=tok-en_1"
		if m.To != a.Email || m.Subject == "" || strings.Contains(m.Subject, "\n") ||
			!strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) {
			t.Errorf("%s: %+v", purpose, m)
		}
		if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.Text, "2 January 2026, 03:04 UTC") {
			t.Errorf("%s: HTML not escaped or no expiry: %s", purpose, m.HTML)
		}
	}
	if _, err := c.Compose(domain.Purpose("other"), a, "t", time.Now()); err == nil {
		t.Error("an unknown purpose was composed")
	}
	for _, bad := range []string{"", "app.example.com", "ftp://x", "https://"} {
		if _, err := compose.New(bad); err == nil || !strings.Contains(err.Error(), "PUBLIC_BASE_URL") {
			t.Errorf("base %q: %v", bad, err)
		}
	}
}
