package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/platform/database"
)

// OutboxCollection names a MongoDB collection whose documents keep their pending events (see
// MongoOutbox). A module that writes events on MongoDB adds one to the "mongo_outboxes" group.
type OutboxCollection struct{ Name string }

// The platform's own collections on MongoDB.
const (
	// mongoFeed holds the events the relay has taken from their documents, numbered in the
	// order it took them: the changes feed, pruned after the retention period.
	mongoFeed = "event_feed"
	// mongoCounters holds the feed's last number.
	mongoCounters = "event_counters"
	// mongoLease holds the relay's lease: one instance relays at a time.
	mongoLease       = "event_relay"
	mongoDeadLetters = "event_dead_letters"
	// mongoSubscriptions holds the subscriptions the embedded broker has started, by handler.
	mongoSubscriptions = "event_subscriptions"
)

// mongoLeaseFor is how long a relay holds the lease without renewing it (it renews at every
// delivery). Should its holder stop, another instance takes over after at most this long.
// Should it stall longer than this in the middle of numbering events into the feed, and then
// go on, a reader of the feed could have passed the numbers it adds late; the events are still
// published, at least once.
const mongoLeaseFor = 10 * time.Second

// MongoIndexes creates the platform's collections' indexes on MongoDB, if missing.
func MongoIndexes(ctx context.Context, db *mongo.Database) error {
	if err := database.EnsureMongoIndexes(ctx, db.Collection(mongoFeed), []mongo.IndexModel{
		{Keys: bson.D{{Key: "seq", Value: 1}}, Options: options.Index().SetName("seq").SetUnique(true)},
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("type_seq")},
		{Keys: bson.D{{Key: "taken_at", Value: 1}}, Options: options.Index().SetName("taken_at")},
	}); err != nil {
		return err
	}
	return database.EnsureMongoIndexes(ctx, db.Collection(mongoDeadLetters), []mongo.IndexModel{
		{Keys: bson.D{{Key: "failed_at", Value: 1}}, Options: options.Index().SetName("failed_at")},
	})
}

// mongoStore is the relay's and the feed's store on MongoDB. The pending events are in the
// documents of the outbox collections; the relay, holding the lease, numbers them into the
// feed, publishes them, and takes them out of their documents. A crash between two of these
// steps repeats the step after it, never loses an event: the feed keys events by id, so one
// numbered twice keeps its first number; publishing is at least once.
type mongoStore struct {
	db       *mongo.Database
	outboxes []string
	// owner names this instance's relay in the lease.
	owner string
}

func newMongoStore(db *mongo.Database, outboxes []OutboxCollection) *mongoStore {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s := &mongoStore{db: db, owner: hex.EncodeToString(b)}
	for _, o := range outboxes {
		s.outboxes = append(s.outboxes, o.Name)
	}
	return s
}

// pendingDoc is what the relay reads of an outbox collection's document.
type pendingDoc struct {
	ID        any            `bson:"_id"`
	Outbox    []MongoPending `bson:"outbox"`
	OutboxSeq int64          `bson:"outbox_seq"`
	Deleted   bool           `bson:"deleted"`
	coll      *mongo.Collection
}

func (s *mongoStore) deliver(ctx context.Context, limit int, publish func(context.Context, []Event) (int, error)) (int, error) {
	// Reading first keeps an idle relay to one query per poll; the lease is a write.
	docs, evs, err := s.pending(ctx, limit)
	if err != nil || len(docs) == 0 {
		return 0, err
	}
	held, err := s.lease(ctx)
	if err != nil || !held {
		return 0, err
	}
	if len(evs) == 0 {
		// Only documents left pending with nothing in their outbox: finish them.
		return 0, s.take(ctx, docs, 0)
	}
	if err := s.number(ctx, evs); err != nil {
		return len(evs), err
	}
	n, pubErr := publish(ctx, evs)
	if err := s.take(ctx, docs, n); err != nil {
		return len(evs), err
	}
	return len(evs), pubErr
}

// lease takes or renews the relay's lease; false when another instance holds it.
func (s *mongoStore) lease(ctx context.Context) (bool, error) {
	now := time.Now()
	filter := bson.D{{Key: "_id", Value: "relay"}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: s.owner}},
		bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.UnixMicro()}}}},
	}}}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: s.owner}, {Key: "until", Value: now.Add(mongoLeaseFor).UnixMicro()}}}}
	_, err := s.db.Collection(mongoLease).UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if err != nil && database.MongoDuplicate(err) {
		return false, nil // held by another: the upsert found the id taken
	}
	return err == nil, database.ClassifyMongo(err)
}

// pending reads the documents with pending events, up to about limit events.
func (s *mongoStore) pending(ctx context.Context, limit int) ([]pendingDoc, []Event, error) {
	var (
		docs []pendingDoc
		evs  []Event
	)
	for _, name := range s.outboxes {
		coll := s.db.Collection(name)
		cur, err := coll.Find(ctx, bson.D{{Key: MongoPendingField, Value: true}}, options.Find().
			SetLimit(int64(limit-len(evs))).
			SetProjection(bson.D{{Key: MongoOutboxField, Value: 1}, {Key: MongoOutboxSeqField, Value: 1}, {Key: MongoDeletedField, Value: 1}}))
		if err != nil {
			return nil, nil, database.ClassifyMongo(err)
		}
		var found []pendingDoc
		if err := cur.All(ctx, &found); err != nil {
			return nil, nil, database.ClassifyMongo(err)
		}
		for _, d := range found {
			d.coll = coll
			docs = append(docs, d)
			for _, p := range d.Outbox {
				e, err := decode(p.Envelope)
				if err != nil {
					return nil, nil, err
				}
				evs = append(evs, e)
			}
		}
		if len(evs) >= limit {
			break
		}
	}
	return docs, evs, nil
}

// feedDoc is an event in the changes feed.
type feedDoc struct {
	ID       bson.Binary `bson:"_id"`
	Seq      int64       `bson:"seq"`
	Type     string      `bson:"type"`
	Envelope string      `bson:"envelope"`
	TakenAt  int64       `bson:"taken_at"`
}

// number adds the events the feed does not hold yet to it, numbered after its last.
func (s *mongoStore) number(ctx context.Context, evs []Event) error {
	ids := make(bson.A, len(evs))
	for i, e := range evs {
		ids[i] = database.MongoID(e.ID)
	}
	feed := s.db.Collection(mongoFeed)
	cur, err := feed.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return database.ClassifyMongo(err)
	}
	var known []struct {
		ID bson.Binary `bson:"_id"`
	}
	if err := cur.All(ctx, &known); err != nil {
		return database.ClassifyMongo(err)
	}
	seen := make(map[uuid.UUID]bool, len(known))
	for _, k := range known {
		if id, err := database.FromMongoID(k.ID); err == nil {
			seen[id] = true
		}
	}
	var fresh []Event
	for _, e := range evs {
		if !seen[e.ID] {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	var counter struct {
		Seq int64 `bson:"seq"`
	}
	err = s.db.Collection(mongoCounters).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: "feed"}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "seq", Value: int64(len(fresh))}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&counter)
	if err != nil {
		return database.ClassifyMongo(err)
	}
	first, now := counter.Seq-int64(len(fresh))+1, time.Now().UnixMicro()
	docs := make([]any, len(fresh))
	for i, e := range fresh {
		env, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		docs[i] = feedDoc{ID: database.MongoID(e.ID), Seq: first + int64(i), Type: e.Type, Envelope: string(env), TakenAt: now}
	}
	_, err = feed.InsertMany(ctx, docs)
	return database.ClassifyMongo(err)
}

// take removes the first n events of docs from their documents (they are in docs' order). A
// document whose every event went (or that had none) also stops being pending, or, for a
// tombstone, is removed, unless a writer appended an event meanwhile (its outbox_seq moved).
func (s *mongoStore) take(ctx context.Context, docs []pendingDoc, n int) error {
	for _, d := range docs {
		k := min(n, len(d.Outbox))
		n -= k
		if k == 0 && len(d.Outbox) > 0 {
			continue // none of its events was published
		}
		var pull bson.D
		if k > 0 {
			// $pullAll of the very entries read (the writers' MongoPending, re-encoded in the
			// same field order) rather than $pull with a condition on seq, which FerretDB v1
			// accepts and ignores.
			pull = bson.D{{Key: "$pullAll", Value: bson.D{{Key: MongoOutboxField, Value: d.Outbox[:k]}}}}
		}
		if k == len(d.Outbox) {
			done, err := s.finish(ctx, d, pull)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if pull == nil {
			continue
		}
		if _, err := d.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, pull); err != nil {
			return database.ClassifyMongo(err)
		}
	}
	return nil
}

// finish empties a document all of whose events were published, if no writer appended one
// since: a tombstone goes, any other stops being pending (its outbox pulled by pull, when
// any). It reports whether it did.
func (s *mongoStore) finish(ctx context.Context, d pendingDoc, pull bson.D) (bool, error) {
	unchanged := bson.D{{Key: "_id", Value: d.ID}, {Key: MongoOutboxSeqField, Value: d.OutboxSeq}}
	if d.Deleted {
		res, err := d.coll.DeleteOne(ctx, append(unchanged, bson.E{Key: MongoDeletedField, Value: true}))
		return err == nil && res.DeletedCount == 1, database.ClassifyMongo(err)
	}
	update := append(pull, bson.E{Key: "$set", Value: bson.D{{Key: MongoPendingField, Value: false}}})
	res, err := d.coll.UpdateOne(ctx, unchanged, update)
	return err == nil && res.MatchedCount == 1, database.ClassifyMongo(err)
}

func (s *mongoStore) prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Collection(mongoFeed).DeleteMany(ctx, bson.D{{Key: "taken_at", Value: bson.D{{Key: "$lt", Value: before.UnixMicro()}}}})
	if err != nil {
		return 0, database.ClassifyMongo(err)
	}
	return res.DeletedCount, nil
}

// deadLetterDoc is a dead letter on MongoDB, keyed by its handler and event.
type deadLetterDoc struct {
	ID       deadLetterKey `bson:"_id"`
	Envelope string        `bson:"envelope"`
	Error    string        `bson:"error"`
	Attempts int           `bson:"attempts"`
	FailedAt int64         `bson:"failed_at"`
}

type deadLetterKey struct {
	Handler string      `bson:"handler"`
	Event   bson.Binary `bson:"event"`
}

func (s *mongoStore) addDeadLetter(ctx context.Context, handler string, e Event, cause error, attempts int, at time.Time) error {
	env, err := e.MarshalJSON()
	if err != nil {
		return err
	}
	d := deadLetterDoc{ID: deadLetterKey{Handler: handler, Event: database.MongoID(e.ID)}, Envelope: string(env),
		Error: cause.Error(), Attempts: attempts, FailedAt: at.UnixMicro()}
	_, err = s.db.Collection(mongoDeadLetters).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, d, options.Replace().SetUpsert(true))
	return database.ClassifyMongo(err)
}

func (s *mongoStore) feed(ctx context.Context, after Position, typ string, limit int) ([]FeedEntry, error) {
	filter := bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: after.Tx}}}}
	if typ != "" {
		filter = append(filter, bson.E{Key: "type", Value: typ})
	}
	cur, err := s.db.Collection(mongoFeed).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, database.ClassifyMongo(err)
	}
	var docs []feedDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, database.ClassifyMongo(err)
	}
	out := make([]FeedEntry, len(docs))
	for i, d := range docs {
		e, err := decode(d.Envelope)
		if err != nil {
			return nil, err
		}
		out[i] = FeedEntry{Position: Position{Tx: d.Seq}, Event: e}
	}
	return out, nil
}

// backlog counts the pending events and finds the oldest, reading the pending documents'
// outboxes (their envelopes left out).
func (s *mongoStore) backlog(ctx context.Context) (int64, time.Time, error) {
	var (
		n      int64
		oldest int64
	)
	for _, name := range s.outboxes {
		cur, err := s.db.Collection(name).Find(ctx, bson.D{{Key: MongoPendingField, Value: true}},
			options.Find().SetProjection(bson.D{{Key: MongoOutboxField + ".time", Value: 1}}))
		if err != nil {
			return 0, time.Time{}, database.ClassifyMongo(err)
		}
		var docs []struct {
			Outbox []struct {
				Time int64 `bson:"time"`
			} `bson:"outbox"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			return 0, time.Time{}, database.ClassifyMongo(err)
		}
		for _, d := range docs {
			for _, p := range d.Outbox {
				n++
				if oldest == 0 || p.Time < oldest {
					oldest = p.Time
				}
			}
		}
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	return n, time.UnixMicro(oldest).UTC(), nil
}

func (s *mongoStore) deadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	cur, err := s.db.Collection(mongoDeadLetters).Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "failed_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, database.ClassifyMongo(err)
	}
	var docs []deadLetterDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, database.ClassifyMongo(err)
	}
	out := make([]DeadLetter, len(docs))
	for i, d := range docs {
		if out[i], err = deadLetter(d.ID.Handler, d.Envelope, d.Error, d.Attempts, time.UnixMicro(d.FailedAt)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *mongoStore) deadLetter(ctx context.Context, handler string, id uuid.UUID) (DeadLetter, error) {
	var d deadLetterDoc
	err := s.db.Collection(mongoDeadLetters).FindOne(ctx, bson.D{{Key: "_id", Value: deadLetterKey{Handler: handler, Event: database.MongoID(id)}}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return DeadLetter{}, errNoDeadLetter
	}
	if err != nil {
		return DeadLetter{}, database.ClassifyMongo(err)
	}
	return deadLetter(d.ID.Handler, d.Envelope, d.Error, d.Attempts, time.UnixMicro(d.FailedAt))
}

func (s *mongoStore) deleteDeadLetter(ctx context.Context, handler string, id uuid.UUID) error {
	_, err := s.db.Collection(mongoDeadLetters).DeleteOne(ctx, bson.D{{Key: "_id", Value: deadLetterKey{Handler: handler, Event: database.MongoID(id)}}})
	if err != nil {
		return database.ClassifyMongo(fmt.Errorf("dead letter: %w", err))
	}
	return nil
}

func (s *mongoStore) subscriptions(ctx context.Context) (map[string]bool, error) {
	cur, err := s.db.Collection(mongoSubscriptions).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, database.ClassifyMongo(err)
	}
	var docs []struct {
		Handler string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, database.ClassifyMongo(err)
	}
	handlers := make([]string, len(docs))
	for i, d := range docs {
		handlers[i] = d.Handler
	}
	return setOf(handlers), nil
}

func (s *mongoStore) addSubscription(ctx context.Context, handler string, at time.Time) error {
	_, err := s.db.Collection(mongoSubscriptions).UpdateOne(ctx, bson.D{{Key: "_id", Value: handler}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "started_at", Value: at.UnixMicro()}}}}, options.UpdateOne().SetUpsert(true))
	if database.MongoDuplicate(err) {
		return nil // a concurrent start recorded it
	}
	return database.ClassifyMongo(err)
}
