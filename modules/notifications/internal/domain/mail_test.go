package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/notifications/internal/domain"
)

func TestBackoffDoublesUpToFiveMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempts int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {1000, 5 * time.Minute}}
	for _, tc := range tests {
		if got := (domain.Job{Attempts: tc.attempts}).Backoff(); got != tc.want {
			t.Errorf("attempt %d: %v, want %v", tc.attempts, got, tc.want)
		}
	}
}

func TestTokensAndJobsLiveAsLongAsTheirPurpose(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		p   domain.Purpose
		ttl time.Duration
	}{{domain.PurposeVerifyEmail, 24 * time.Hour}, {domain.PurposeResetPassword, time.Hour}} {
		j := domain.NewJob(uuid.New(), tc.p, uuid.New(), "a@example.com", "r", now)
		if j.Stale(now.Add(tc.ttl)) || !j.Stale(now.Add(tc.ttl+time.Second)) {
			t.Errorf("%s: a job goes stale after %v", tc.p, tc.ttl)
		}
		if tok := domain.NewToken([]byte("d"), j, now); tok.ExpiresAt != now.Add(tc.ttl) || tok.Email != j.Email {
			t.Errorf("%s: token %+v", tc.p, tok)
		}
	}
}
