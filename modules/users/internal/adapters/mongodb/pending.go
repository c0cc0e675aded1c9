package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/platform/events"
)

// Pending returns the events waiting in the users' documents for the relay, user by user (in
// id order), each user's in the order they were written: what an operator inspecting the
// outbox, or a test, reads.
func Pending(ctx context.Context, db *mongo.Database) ([]events.Event, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.D{{Key: events.MongoPendingField, Value: true}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetProjection(bson.D{{Key: events.MongoOutboxField, Value: 1}}))
	if err != nil {
		return nil, mapError(err)
	}
	var docs []struct {
		Outbox []events.MongoPending `bson:"outbox"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapError(err)
	}
	var out []events.Event
	for _, d := range docs {
		for _, p := range d.Outbox {
			var e events.Event
			if err := e.UnmarshalJSON([]byte(p.Envelope)); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}
