// Package mongodb implements the audit module's EntryRepository on MongoDB. It passes the same
// contract suite as the SQL adapters.
//
// An entry's document is keyed by its event's id, so the trail needs no separate record of
// processed events: a redelivered event's insert finds its id taken and stores nothing. That
// also makes RecordAll all-or-none in effect rather than in one write: a batch cut short by a
// failure is retried (the events backbone retries a failed handler), and the retry stores what
// the first attempt did not.
package mongodb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/audit/internal/adapters/rows"
	"github.com/acme/userservice/modules/audit/internal/domain"
	"github.com/acme/userservice/modules/audit/internal/ports"
	"github.com/acme/userservice/platform/database"
)

// Collection is the trail's collection.
const Collection = "audit_events"

// Repository is the MongoDB EntryRepository.
type Repository struct{ entries *mongo.Collection }

var _ ports.EntryRepository = (*Repository)(nil)

// NewRepository returns a repository on db.
func NewRepository(db *mongo.Database) *Repository {
	return &Repository{entries: db.Collection(Collection)}
}

// Indexes creates the indexes of the trail's filters (each with the id, the order of pages),
// if missing.
func Indexes(ctx context.Context, db *mongo.Database) error {
	return database.EnsureMongoIndexes(ctx, db.Collection(Collection), []mongo.IndexModel{
		{Keys: bson.D{{Key: "target", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("target_id")},
		{Keys: bson.D{{Key: "actor", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("actor_id")},
		{Keys: bson.D{{Key: "type", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("type_id")},
	})
}

// entryDoc is an entry as the collection keeps it; the time in microseconds since 1970, the
// domain's precision.
type entryDoc struct {
	EventID    bson.Binary `bson:"_id"`
	Type       string      `bson:"type"`
	Actor      string      `bson:"actor"`
	Target     bson.Binary `bson:"target"`
	RequestID  string      `bson:"request_id"`
	Changed    []string    `bson:"changed"`
	OccurredAt int64       `bson:"occurred_at"`
}

// Record stores e unless its event is already in the trail.
func (r *Repository) Record(ctx context.Context, handler string, e domain.Entry) error {
	return r.RecordAll(ctx, handler, []domain.Entry{e})
}

// RecordAll stores each entry whose event is not in the trail yet.
func (r *Repository) RecordAll(ctx context.Context, _ string, es []domain.Entry) error {
	if len(es) == 0 {
		return nil
	}
	docs := make([]any, len(es))
	for i, e := range es {
		docs[i] = entryDoc{
			EventID: database.MongoID(e.EventID), Type: e.Type, Actor: e.Actor, Target: database.MongoID(e.Target),
			RequestID: e.RequestID, Changed: e.Changed, OccurredAt: e.OccurredAt.UnixMicro(),
		}
	}
	// Unordered: one entry already there does not stop the others.
	_, err := r.entries.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !database.MongoOnlyDuplicates(err) {
		return mapError(err)
	}
	return nil
}

// List returns a page of entries, newest first: an entry's id is its event's UUIDv7, ordered
// by time, and BSON compares such ids byte by byte.
func (r *Repository) List(ctx context.Context, q ports.Query) ([]domain.Entry, error) {
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: database.MongoID(q.Before)}}}}
	if q.Target != nil {
		filter = append(filter, bson.E{Key: "target", Value: database.MongoID(*q.Target)})
	}
	if q.Actor != "" {
		filter = append(filter, bson.E{Key: "actor", Value: q.Actor})
	}
	if q.Type != "" {
		filter = append(filter, bson.E{Key: "type", Value: q.Type})
	}
	cur, err := r.entries.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, mapError(err)
	}
	var docs []entryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapError(err)
	}
	out := make([]domain.Entry, len(docs))
	for i, d := range docs {
		id, err := database.FromMongoID(d.EventID)
		if err != nil {
			return nil, fmt.Errorf("audit mongodb: entry id: %w", err)
		}
		target, err := database.FromMongoID(d.Target)
		if err != nil {
			return nil, fmt.Errorf("audit mongodb: entry %s: target: %w", id, err)
		}
		at := time.UnixMicro(d.OccurredAt)
		if out[i], err = rows.Entry(id, d.Type, d.Actor, target.String(), d.RequestID, strings.Join(d.Changed, ","), at); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyMongo(fmt.Errorf("audit mongodb: %w", err))
}
