// Package mongodb implements the notifications module's Store on MongoDB, without
// transactions: every method's promise rests on single-document writes.
//
//   - A mail job is a document of mail_jobs, an outbox collection (events.MongoOutbox): a job
//     asked for with events (a password reset request) is inserted with them, atomically.
//   - A job an event asks for is keyed by that event's id (and the handler's name), so an
//     event delivered again finds its job there and asks for no second mail, with no separate
//     record of processed events. A job that ends (sent or dropped) is therefore kept, ended, for EndedJobsKept, then
//     pruned; a forgotten user's jobs become tombstones, which the relay removes once the
//     events they may still hold are published.
//   - Recording sends writes their events into one new tombstone first, then voids the older
//     links and ends the jobs: should the process die in between, the jobs are sent again and
//     recorded again (a mail and its event at least once, as when a send fails), never lost.
//   - A token is a document of mail_tokens keyed by its digest, consumed by one conditional
//     update.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/notifications/internal/adapters/outbox"
	"github.com/acme/userservice/modules/notifications/internal/domain"
	"github.com/acme/userservice/modules/notifications/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/reqctx"
)

// EndedJobsKept is how long an ended job stays, so that a late redelivery of the event that
// asked for it asks for nothing.
const EndedJobsKept = 24 * time.Hour

// The module's collections.
const (
	// Jobs is the mail jobs' collection, an outbox collection of the events relay.
	Jobs   = "mail_jobs"
	tokens = "mail_tokens"
)

// Store is the MongoDB Store.
type Store struct {
	jobs, tokens *mongo.Collection
	// appended is called after events were committed (events.Signal.Appended).
	appended func()
}

var _ ports.Store = (*Store)(nil)

// New returns a store on db, calling appended (when not nil) after it committed events.
func New(db *mongo.Database, appended func()) *Store {
	return &Store{jobs: db.Collection(Jobs), tokens: db.Collection(tokens), appended: appended}
}

// Indexes creates the collections' indexes, if missing: due jobs in order, a user's jobs and
// tokens, the relay's pending documents, and tokens by expiry.
func Indexes(ctx context.Context, db *mongo.Database) error {
	if err := database.EnsureMongoIndexes(ctx, db.Collection(Jobs), []mongo.IndexModel{
		{Keys: bson.D{{Key: events.MongoDeletedField, Value: 1}, {Key: "ended_at", Value: 1}, {Key: "next_attempt_at", Value: 1}}, Options: options.Index().SetName("due")},
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user_id")},
		{Keys: bson.D{{Key: events.MongoPendingField, Value: 1}}, Options: options.Index().SetName("pending")},
	}); err != nil {
		return err
	}
	return database.EnsureMongoIndexes(ctx, db.Collection(tokens), []mongo.IndexModel{
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "purpose", Value: 1}, {Key: "created_at", Value: 1}}, Options: options.Index().SetName("user_purpose")},
		{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetName("expires_at")},
	})
}

// jobDoc is a mail job; times in microseconds since 1970.
type jobDoc struct {
	ID            bson.Binary `bson:"_id"`
	Purpose       string      `bson:"purpose"`
	UserID        bson.Binary `bson:"user_id"`
	Email         string      `bson:"email"`
	RequestID     string      `bson:"request_id"`
	CreatedAt     int64       `bson:"created_at"`
	NextAttemptAt int64       `bson:"next_attempt_at"`
	Attempts      int         `bson:"attempts"`
	LastError     string      `bson:"last_error"`
	// EndedAt is when the job was sent or dropped; 0 while it waits.
	EndedAt int64 `bson:"ended_at"`

	Outbox    []events.MongoPending `bson:"outbox"`
	OutboxSeq int64                 `bson:"outbox_seq"`
	Pending   bool                  `bson:"pending"`
	Deleted   bool                  `bson:"deleted"`
}

// tokenDoc is a mailed token, keyed by its digest.
type tokenDoc struct {
	Digest    []byte      `bson:"_id"`
	Purpose   string      `bson:"purpose"`
	UserID    bson.Binary `bson:"user_id"`
	Email     string      `bson:"email"`
	CreatedAt int64       `bson:"created_at"`
	ExpiresAt int64       `bson:"expires_at"`
	UsedAt    int64       `bson:"used_at"`
}

// fromBinary reads an id the adapter wrote (database.MongoID): always 16 bytes.
func fromBinary(b bson.Binary) uuid.UUID {
	id, _ := database.FromMongoID(b)
	return id
}

// newJob returns the document of a job keyed by id, holding evs.
func newJob(ctx context.Context, id uuid.UUID, j domain.Job, evs []ports.Event) (jobDoc, error) {
	rid := j.RequestID
	if rid == "" {
		rid = reqctx.RequestID(ctx)
	}
	envs, err := outbox.Envelopes(ctx, evs)
	if err != nil {
		return jobDoc{}, err
	}
	pending, err := events.MongoOutbox(0, envs)
	if err != nil {
		return jobDoc{}, err
	}
	return jobDoc{
		ID: database.MongoID(id), Purpose: string(j.Purpose), UserID: database.MongoID(j.UserID), Email: j.Email, RequestID: rid,
		CreatedAt: j.CreatedAt.UnixMicro(), NextAttemptAt: j.CreatedAt.UnixMicro(),
		Outbox: pending, OutboxSeq: int64(len(pending)), Pending: len(pending) > 0,
	}, nil
}

// AddJob stores j with evs, in one insert.
func (s *Store) AddJob(ctx context.Context, j domain.Job, evs ...ports.Event) error {
	d, err := newJob(ctx, j.ID, j, evs)
	if err != nil {
		return err
	}
	if _, err := s.jobs.InsertOne(ctx, d); err != nil {
		return mapError(err)
	}
	if d.Pending && s.appended != nil {
		s.appended()
	}
	return nil
}

// AddJobsOnce stores each job under an id made of its event's and the handler's, in one
// unordered insert: an event the handler already asked for finds its id taken and stores
// nothing.
func (s *Store) AddJobsOnce(ctx context.Context, handler string, jobs ...ports.EventJob) error {
	if len(jobs) == 0 {
		return nil
	}
	docs := make([]any, 0, len(jobs))
	for _, ej := range jobs {
		d, err := newJob(ctx, uuid.NewSHA1(ej.EventID, []byte(handler)), ej.Job, nil)
		if err != nil {
			return err
		}
		docs = append(docs, d)
	}
	_, err := s.jobs.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !database.MongoOnlyDuplicates(err) {
		return mapError(err)
	}
	return nil
}

// ClaimJobs leases up to limit of the most overdue due jobs: each by an update filtered on
// the due time it was read with, so that of concurrent senders one gets it.
func (s *Store) ClaimJobs(ctx context.Context, now, leaseUntil time.Time, limit int) ([]domain.Job, error) {
	cur, err := s.jobs.Find(ctx, append(waiting(), bson.E{Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now.UnixMicro()}}}),
		options.Find().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: events.MongoOutboxField, Value: 0}}))
	if err != nil {
		return nil, mapError(err)
	}
	var due []jobDoc
	if err := cur.All(ctx, &due); err != nil {
		return nil, mapError(err)
	}
	var claimed []domain.Job
	for _, d := range due {
		res, err := s.jobs.UpdateOne(ctx,
			append(waiting(bson.E{Key: "_id", Value: d.ID}), bson.E{Key: "next_attempt_at", Value: d.NextAttemptAt}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: leaseUntil.UnixMicro()}}}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}})
		if err != nil {
			return claimed, mapError(err)
		}
		if res.MatchedCount == 0 {
			continue // another sender's
		}
		claimed = append(claimed, domain.Job{ID: fromBinary(d.ID), Purpose: domain.Purpose(d.Purpose), UserID: fromBinary(d.UserID),
			Email: d.Email, RequestID: d.RequestID, CreatedAt: time.UnixMicro(d.CreatedAt).UTC(), Attempts: d.Attempts + 1})
	}
	return claimed, nil
}

// RetryJob puts the job off until next.
func (s *Store) RetryJob(ctx context.Context, id uuid.UUID, next time.Time, why string) error {
	_, err := s.jobs.UpdateOne(ctx, waiting(bson.E{Key: "_id", Value: database.MongoID(id)}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: next.UnixMicro()}, {Key: "last_error", Value: why}}}})
	return mapError(err)
}

// AddTokens stores tokens about to be mailed, in one insert.
func (s *Store) AddTokens(ctx context.Context, ts ...domain.Token) error {
	if len(ts) == 0 {
		return nil
	}
	docs := make([]any, len(ts))
	for i, t := range ts {
		docs[i] = tokenDoc{Digest: t.Digest, Purpose: string(t.Purpose), UserID: database.MongoID(t.UserID), Email: t.Email,
			CreatedAt: t.CreatedAt.UnixMicro(), ExpiresAt: t.ExpiresAt.UnixMicro()}
	}
	_, err := s.tokens.InsertMany(ctx, docs)
	return mapError(err)
}

// DropToken deletes a token whose mail did not go out.
func (s *Store) DropToken(ctx context.Context, digest []byte) error {
	_, err := s.tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: digest}})
	return mapError(err)
}

// Sent records sent jobs: their events first, in one new tombstone that the relay publishes
// and removes; then each token voids its user's older ones of its purpose; then the jobs end.
func (s *Store) Sent(ctx context.Context, sent ...ports.SentJob) error {
	if len(sent) == 0 {
		return nil
	}
	evs := make([]ports.Event, len(sent))
	ids := make(bson.A, len(sent))
	for i, x := range sent {
		evs[i], ids[i] = x.Event, database.MongoID(x.Job.ID)
	}
	record, err := newJob(ctx, uuid.Must(uuid.NewV7()), domain.Job{}, evs)
	if err != nil {
		return err
	}
	record.Deleted = true
	if _, err := s.jobs.InsertOne(ctx, record); err != nil {
		return mapError(err)
	}
	if s.appended != nil {
		s.appended()
	}
	for _, x := range sent {
		// Older by creation, not by the order sends are recorded in: a mail sent before another
		// may be recorded after it, and must not void the newer link.
		if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "user_id", Value: database.MongoID(x.Token.UserID)},
			{Key: "purpose", Value: string(x.Token.Purpose)}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: x.Token.CreatedAt.UnixMicro()}}}}); err != nil {
			return mapError(err)
		}
	}
	return s.end(ctx, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}})
}

// waiting is the filter of jobs not yet ended, and of filter.
func waiting(filter ...bson.E) bson.D {
	return append(bson.D{{Key: events.MongoDeletedField, Value: false}, {Key: "ended_at", Value: int64(0)}}, filter...)
}

// end marks the waiting jobs filter matches ended, now.
func (s *Store) end(ctx context.Context, filter bson.E) error {
	_, err := s.jobs.UpdateMany(ctx, waiting(filter),
		bson.D{{Key: "$set", Value: bson.D{{Key: "ended_at", Value: time.Now().UnixMicro()}}}})
	return mapError(err)
}

// DropJob ends a job that will not be sent.
func (s *Store) DropJob(ctx context.Context, id uuid.UUID) error {
	return s.end(ctx, bson.E{Key: "_id", Value: database.MongoID(id)})
}

// UseToken consumes a token once: of concurrent uses, one update finds it unused.
func (s *Store) UseToken(ctx context.Context, digest []byte, p domain.Purpose, now time.Time) (uuid.UUID, string, error) {
	var t tokenDoc
	err := s.tokens.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: digest}, {Key: "purpose", Value: string(p)}, {Key: "used_at", Value: int64(0)},
			{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now.UnixMicro()}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now.UnixMicro()}}}}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return uuid.Nil, "", domain.ErrInvalidToken
	}
	if err != nil {
		return uuid.Nil, "", mapError(err)
	}
	return fromBinary(t.UserID), t.Email, nil
}

// ReleaseToken gives back a token the use at usedAt consumed.
func (s *Store) ReleaseToken(ctx context.Context, digest []byte, p domain.Purpose, usedAt time.Time) error {
	_, err := s.tokens.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: digest}, {Key: "purpose", Value: string(p)}, {Key: "used_at", Value: usedAt.UnixMicro()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: int64(0)}}}})
	return mapError(err)
}

// Forget deletes the user's tokens and turns their jobs into tombstones without the address,
// which the relay removes once it has published the events they may still hold.
func (s *Store) Forget(ctx context.Context, userID uuid.UUID) error {
	if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "user_id", Value: database.MongoID(userID)}}); err != nil {
		return mapError(err)
	}
	_, err := s.jobs.UpdateMany(ctx, bson.D{{Key: "user_id", Value: database.MongoID(userID)}, {Key: events.MongoDeletedField, Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: events.MongoDeletedField, Value: true}, {Key: events.MongoPendingField, Value: true}, {Key: "email", Value: ""}}}})
	return mapError(err)
}

// Prune deletes expired tokens, and the jobs ended more than EndedJobsKept ago whose events
// are published.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now.UnixMicro()}}}}); err != nil {
		return mapError(err)
	}
	_, err := s.jobs.DeleteMany(ctx, bson.D{{Key: events.MongoPendingField, Value: false},
		{Key: "ended_at", Value: bson.D{{Key: "$gt", Value: int64(0)}, {Key: "$lte", Value: now.Add(-EndedJobsKept).UnixMicro()}}}})
	return mapError(err)
}

// Backlog counts the jobs not yet sent.
func (s *Store) Backlog(ctx context.Context) (int, error) {
	n, err := s.jobs.CountDocuments(ctx, waiting())
	return int(n), mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyMongo(fmt.Errorf("notifications mongodb: %w", err))
}
