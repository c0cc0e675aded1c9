package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/platform/apptest/wait"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/mongotest"
	eventsql "github.com/acme/userservice/queries/events"
)

// testOutbox is the outbox collection of the MongoDB tests: one document per subject.
const testOutbox = "test_outbox"

// newMongoHarness is newHarness on a fresh MongoDB database.
func newMongoHarness(t *testing.T) *harness {
	t.Helper()
	db := mongotest.Open(t, eventsql.Migrations().WithMongo(MongoIndexes))
	return &harness{db: db, store: newMongoStore(db.Mongo, []OutboxCollection{{Name: testOutbox}})}
}

// appendMongo appends each subject's events to its document in one update filtered on the
// outbox_seq it read, as a module's unit of work does with its version.
func appendMongo(t *testing.T, db *mongo.Database, evs ...Event) {
	t.Helper()
	coll := db.Collection(testOutbox)
	for _, e := range evs {
		for {
			var d struct {
				OutboxSeq int64 `bson:"outbox_seq"`
			}
			err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: e.Subject}}).Decode(&d)
			if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				t.Fatal(err)
			}
			pending, err := MongoOutbox(d.OutboxSeq, []Event{e})
			if err != nil {
				t.Fatal(err)
			}
			res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.Subject}, {Key: MongoOutboxSeqField, Value: d.OutboxSeq}},
				bson.D{
					{Key: "$set", Value: bson.D{{Key: MongoOutboxSeqField, Value: d.OutboxSeq + 1}, {Key: MongoPendingField, Value: true}}},
					{Key: "$setOnInsert", Value: bson.D{{Key: MongoDeletedField, Value: false}}},
					{Key: "$push", Value: bson.D{{Key: MongoOutboxField, Value: bson.D{{Key: "$each", Value: pending}}}}},
				}, options.UpdateOne().SetUpsert(true))
			if err != nil && !database.MongoDuplicate(err) {
				t.Fatal(err)
			}
			if err == nil && (res.MatchedCount == 1 || res.UpsertedCount == 1) {
				break
			}
			// Another writer appended first: read again.
		}
	}
}

func TestMongoRelayDeliversOnceInOrderFeedsAndEmptiesTheDocuments(t *testing.T) {
	t.Parallel()
	h := newMongoHarness(t)
	var want []uuid.UUID
	for n := range 25 {
		e := event(t, fmt.Sprintf("subject-%d", n%3), n)
		h.append(t, e)
		want = append(want, e.ID)
	}
	// A deletion's tombstone: it goes once its events are out.
	gone := event(t, "gone", 1)
	h.append(t, gone)
	want = append(want, gone.ID)
	if _, err := h.db.Mongo.Collection(testOutbox).UpdateOne(ctx, bson.D{{Key: "_id", Value: "gone"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: MongoDeletedField, Value: true}}}}); err != nil {
		t.Fatal(err)
	}
	// A tombstone left pending with nothing to publish (the relay emptied it between a
	// deletion's read and its write): the relay removes it too.
	if _, err := h.db.Mongo.Collection(testOutbox).InsertOne(ctx, bson.D{{Key: "_id", Value: "empty"},
		{Key: MongoOutboxField, Value: bson.A{}}, {Key: MongoOutboxSeqField, Value: int64(3)},
		{Key: MongoPendingField, Value: true}, {Key: MongoDeletedField, Value: true}}); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := h.store.backlog(ctx); err != nil || n != 26 || oldest.IsZero() {
		t.Fatalf("backlog before relaying: %d, %v, %v", n, oldest, err)
	}
	h.relay(t)
	wait.Until(t, patience, "26 deliveries and an empty backlog", func() bool {
		n, _, err := h.store.backlog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(h.recorded()) >= 26 && n == 0
	})
	seen := h.recorded()
	inOrderPerSubject(t, seen)
	entries, err := h.store.feed(ctx, Position{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 26 || len(seen) != 26 {
		t.Fatalf("fed %d, delivered %d; want the 26 written, once each", len(entries), len(seen))
	}
	fed := make([]uuid.UUID, len(entries))
	for i, e := range entries {
		if e.Position.Tx != int64(i+1) {
			t.Fatalf("entry %d numbered %d", i, e.Position.Tx)
		}
		fed[i] = e.Event.ID
	}
	slices.SortFunc(fed, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(fed, want) {
		t.Fatal("the feed holds other events than the 26 written")
	}
	cur, err := h.db.Mongo.Collection(testOutbox).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if len(d.Outbox) != 0 {
			t.Fatalf("document %v still holds %d events", d.ID, len(d.Outbox))
		}
	}
	if left, err := h.db.Mongo.Collection(testOutbox).CountDocuments(ctx, bson.D{{Key: MongoPendingField, Value: true}}); err != nil || left != 0 {
		t.Fatalf("%d documents still pending (%v)", left, err)
	}
	for _, id := range []string{"gone", "empty"} {
		if err := h.db.Mongo.Collection(testOutbox).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
			t.Fatalf("the tombstone %q is still there: %v", id, err)
		}
	}
	if only, err := h.store.feed(ctx, Position{Tx: 20}, "", 100); err != nil || len(only) != 6 {
		t.Fatalf("the feed after 20: %d entries, %v", len(only), err)
	}
}

// TestMongoRelaysTakeTurnsAndTheFeedMissesNothing: two relays (two instances) and concurrent
// writers; the lease lets one relay at a time, so every event is delivered once, in order per
// subject, and a reader walking the feed sees each once.
func TestMongoRelaysTakeTurnsAndTheFeedMissesNothing(t *testing.T) {
	t.Parallel()
	h := newMongoHarness(t)
	other := &harness{db: h.db, store: newMongoStore(h.db.Mongo, []OutboxCollection{{Name: testOutbox}})}
	h.relay(t)
	other.relayWith(t, &Local{subs: []Subscription{h.subscription()}, store: other.store, retry: testRetry, log: zaptest.NewLogger(t), metrics: h.metrics(t)})
	const writers, perWriter = 4, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range perWriter {
				h.append(t, event(t, fmt.Sprintf("w%d-s%d", w, n%2), n))
			}
		})
	}
	walkFeed(t, h.store, writers*perWriter)
	wg.Wait()
	wait.Until(t, patience, "every delivery", func() bool { return len(h.recorded()) >= writers*perWriter })
	delivered := h.recorded()
	if len(delivered) != writers*perWriter {
		t.Fatalf("%d deliveries of %d events", len(delivered), writers*perWriter)
	}
	inOrderPerSubject(t, delivered)
}

func TestMongoDeadLettersAndPruning(t *testing.T) {
	t.Parallel()
	h := newMongoHarness(t)
	e := event(t, "a", 1)
	at := time.Now().UTC().Truncate(time.Microsecond)
	for attempts := 1; attempts <= 2; attempts++ { // a second failure replaces the first
		if err := h.store.addDeadLetter(ctx, "test.handler", e, errors.New("boom"), attempts, at); err != nil {
			t.Fatal(err)
		}
	}
	list, err := h.store.deadLetters(ctx, 10)
	if err != nil || len(list) != 1 || list[0].Event.ID != e.ID || list[0].Attempts != 2 || list[0].Error != "boom" || !list[0].FailedAt.Equal(at) {
		t.Fatalf("dead letters: %+v %v", list, err)
	}
	if _, err := h.store.deadLetter(ctx, "other.handler", e.ID); !errors.Is(err, errNoDeadLetter) {
		t.Fatalf("another handler's: %v", err)
	}
	if err := h.store.deleteDeadLetter(ctx, "test.handler", e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.deadLetter(ctx, "test.handler", e.ID); !errors.Is(err, errNoDeadLetter) {
		t.Fatalf("after deleting: %v", err)
	}

	h.append(t, e)
	if n, err := h.store.deliver(ctx, 10, func(context.Context, []Event) (int, error) { return 1, nil }); err != nil || n != 1 {
		t.Fatalf("deliver: %d %v", n, err)
	}
	if n, err := h.store.prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned %d recent events (%v)", n, err)
	}
	if n, err := h.store.prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the delivered event", n, err)
	}
}

// TestMongoNeedsEveryModulesAdapter: on MongoDB a module without an adapter stops the
// migrator, naming it.
func TestMongoNeedsEveryModulesAdapter(t *testing.T) {
	t.Parallel()
	db := mongotest.Open(t)
	_, err := database.NewMigrator(db, []database.Migrations{eventsql.Migrations().WithMongo(MongoIndexes), {Module: "legacy"}})
	var missing *database.NoMongoAdapterError
	if !errors.As(err, &missing) || len(missing.Modules) != 1 || missing.Modules[0] != "legacy" {
		t.Fatalf("got %v, want the legacy module named", err)
	}
}
