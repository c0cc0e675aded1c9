package mongodb

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/platform/database"
)

// leavingField is the bson name of userDoc.LeavingAdmin.
const leavingField = "leaving_admin"

// admins is the AdminGuard of a work. Without transactions, two units of work demoting two
// admins each count the other as an admin, and both would pass; a lock of the admins would
// need a lease, unsafe when its holder stalls past it. So each first marks its own admin as
// leaving, in a write filtered on the version its work read, and only then counts the admins
// that are active and not leaving:
//
//   - Of two such units of work, the one that counts last finds the other's mark (each marks
//     before it counts), or the other's change done: both cannot pass. So for any number, by
//     the same argument about the last to count.
//   - The change is committed filtered on the version of the mark's write: a unit of work
//     passes only if its mark stood unbroken from before its count to its change (a write of
//     the user between, which takes the mark back, makes it run again).
//   - Finding other admins, all leaving, is contention, not the last admin: the unit of work
//     takes its mark back and runs again after a random wait, until one of them has gone.
//
// A unit of work that marked and then does not change the user (it failed, or found no loss)
// has the mark taken back when it ends (Store.run); a crash can leave one, which only makes
// that admin count as leaving (a refusal too many, never too few) until the user's next change.
type admins struct{ w *work }

// OtherActiveAdmin marks id leaving, then reports whether an active admin other than id
// remains that is not leaving itself.
func (a *admins) OtherActiveAdmin(ctx context.Context, id uuid.UUID) (bool, error) {
	e, err := a.w.live(ctx, id)
	if err != nil {
		return false, err
	}
	users := a.w.s.users
	res, err := users.UpdateOne(ctx, bson.D{{Key: "_id", Value: database.MongoID(id)}, {Key: "version", Value: e.version}},
		bson.D{{Key: "$set", Value: bson.D{{Key: leavingField, Value: true}, {Key: "version", Value: e.version + 1}}}})
	if err != nil {
		return false, mapError(err)
	}
	if res.MatchedCount == 0 {
		return false, errConflict
	}
	a.w.marked[id] = true
	e.version++
	e.doc.Version, e.doc.LeavingAdmin = e.version, true

	others := live(
		bson.E{Key: "role", Value: string(domain.RoleAdmin)}, bson.E{Key: "is_active", Value: true},
		bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: database.MongoID(id)}}})
	staying := append(others, bson.E{Key: leavingField, Value: bson.D{{Key: "$ne", Value: true}}})
	if n, err := users.CountDocuments(ctx, staying, options.Count().SetLimit(1)); err != nil || n > 0 {
		return n > 0, mapError(err)
	}
	n, err := users.CountDocuments(ctx, others, options.Count().SetLimit(1))
	if err != nil {
		return false, mapError(err)
	}
	// Not going ahead: take the mark back now, so that the others leaving can count this one.
	a.w.s.unmark(ctx, id)
	delete(a.w.marked, id)
	if n > 0 {
		return false, errConflict // the others are leaving too: run again, one will have gone
	}
	return false, nil
}

// unmark takes back the admin guard's mark on id, whatever the document's version (and moves
// the version on: a unit of work that read the mark cannot commit on it). Best effort: a mark
// left only counts an admin as leaving.
func (s *Store) unmark(ctx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: database.MongoID(id)}, {Key: leavingField, Value: true}},
		bson.D{{Key: "$set", Value: bson.D{{Key: leavingField, Value: false}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
}
