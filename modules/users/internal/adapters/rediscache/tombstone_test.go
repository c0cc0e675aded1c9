package rediscache

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/throttle/redistest"
)

// TestAFillAfterAnInvalidationDoesNotRestoreTheOldValue is the race the tombstones are for: a
// reader fetched the row before a writer committed, and fills after the writer invalidated.
func TestAFillAfterAnInvalidationDoesNotRestoreTheOldValue(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb, err := kv.Open(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	c, err := New(rdb, time.Minute, zaptest.NewLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := userKey(uuid.New())
	c.fill(ctx, key, "old")
	c.invalidate(ctx, key)
	c.fill(ctx, key, "old, read before the commit")
	if _, ok := c.get(ctx, key); ok {
		t.Fatal("a fill after the invalidation was served")
	}
	if v, _ := rdb.Get(ctx, key).Result(); v != tombstone {
		t.Fatalf("the key holds %q", v)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > tombstoneTTL {
		t.Fatalf("the tombstone lives %v", ttl)
	}
}

// TestASharedReadOutlivesItsFirstCaller: the read several requests wait for keeps the first
// one's deadline but not its cancellation.
func TestASharedReadOutlivesItsFirstCaller(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Minute)
	first, cancel := context.WithDeadline(context.Background(), deadline)
	ctx, release := shared(first)
	defer release()
	cancel()
	if ctx.Err() != nil {
		t.Fatalf("the shared read was cancelled with its first caller: %v", ctx.Err())
	}
	if got, ok := ctx.Deadline(); !ok || !got.Equal(deadline) {
		t.Fatalf("deadline %v %v, want %v", got, ok, deadline)
	}
}
