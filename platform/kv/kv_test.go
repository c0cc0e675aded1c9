package kv

import "testing"

// TestDescribeLeavesOutCredentials: the start-up log names the Redis, never its password.
func TestDescribeLeavesOutCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"redis://redis:6379/0", "Redis redis:6379/0"},
		{"rediss://app:secret@cache.internal:6380/2", "Redis cache.internal:6380/2"},
		{"redis://:secret@cache.internal:6379", "Redis cache.internal:6379"},
		{"localhost:6379", "Redis (REDIS_URL not valid)"},
	} {
		if got := Describe(tc.url); got != tc.want {
			t.Errorf("Describe(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
