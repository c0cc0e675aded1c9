// Package rows turns a stored audit row, as the adapters read it, into the domain's entry.
package rows

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/audit/internal/domain"
)

// Entry returns the entry of a stored row; changed is the comma-separated field names.
func Entry(eventID uuid.UUID, typ, actor, target, requestID, changed string, at time.Time) (domain.Entry, error) {
	id, err := uuid.Parse(target)
	if err != nil {
		return domain.Entry{}, fmt.Errorf("audit: stored target %q: %w", target, err)
	}
	fields := []string{}
	if changed != "" {
		fields = strings.Split(changed, ",")
	}
	return domain.Entry{EventID: eventID, Type: typ, Actor: actor, Target: id, RequestID: requestID, Changed: fields, OccurredAt: at.UTC()}, nil
}
