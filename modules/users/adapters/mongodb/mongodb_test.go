package mongodb_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/users/adapters/mongodb"
	"github.com/acme/userservice/modules/users/ports/porttest"
	"github.com/acme/userservice/platform/database/mongotest"
	"github.com/acme/userservice/platform/events"
)

func TestContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Store {
		db, _ := mongotest.Database(t)
		if err := mongodb.Indexes(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s := mongodb.New(db, nil)
		return porttest.Store{
			Users:     s.Repository(),
			Sessions:  s.Sessions(),
			UoW:       s.UnitOfWork(),
			Atomicity: porttest.OneUser,
			Outbox: func(t *testing.T) []string {
				ctx := context.Background()
				cur, err := db.Collection(mongodb.Collection).Find(ctx, bson.D{},
					options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
				if err != nil {
					t.Fatal(err)
				}
				var docs []struct {
					Outbox []events.MongoPending `bson:"outbox"`
				}
				if err := cur.All(ctx, &docs); err != nil {
					t.Fatal(err)
				}
				var types []string
				for _, d := range docs {
					for _, p := range d.Outbox {
						var e events.Event
						if err := e.UnmarshalJSON([]byte(p.Envelope)); err != nil {
							t.Fatal(err)
						}
						types = append(types, e.Type)
					}
				}
				return types
			},
		}
	})
}
