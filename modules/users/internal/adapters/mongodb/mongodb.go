// Package mongodb implements the users module's ports on MongoDB with the official driver
// (go.mongodb.org/mongo-driver/v2). It passes the same contract suite as the SQL adapters,
// with one difference the suite states: a unit of work is atomic for one user, not for several.
//
// A standalone MongoDB server has no transactions, so the adapter does not need them: a user
// is one document (userDoc) holding its account, its sessions with their refresh tokens, and
// the events of its changes until the relay publishes them. Every use case changes one user,
// so every unit of work commits with one single-document write, filtered on the version it
// read: of two concurrent read-modify-writes of a user, the second finds the version moved and
// runs again on what the first committed (optimistic concurrency, MaxAttempts times). This
// holds on a replica set and on a sharded cluster alike, where a transaction would cost more.
//
// A unit of work reads a user's document once, applies the repositories' calls to it in
// memory, and writes it at the end: returning an error or panicking writes nothing. A unit of
// work that would write two users fails with ErrSeveralUsers before writing either.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/users/internal/adapters/outbox"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// Collection is the name of the users' collection, an outbox collection of the events relay.
const Collection = "users"

// MaxAttempts is how often a unit of work runs when the user it writes keeps changing under
// it; the last conflict is returned as database.ErrUnavailable. Of n units of work racing on one user, one
// commits per round, so this is the concurrency on one user that never fails.
const MaxAttempts = 64

// ErrSeveralUsers is returned by a unit of work that would write more than one user: on
// MongoDB only a single document's write is atomic.
var ErrSeveralUsers = errors.New("users mongodb: a unit of work writes one user")

// errConflict is a unit of work's write finding the document changed since it was read.
var errConflict = errors.New("users mongodb: the user changed during the unit of work")

// Store is the users module's storage on a MongoDB database.
type Store struct {
	users *mongo.Collection
	// appended is called after events were committed (nil: nobody to tell).
	appended func()
}

// New returns the store on db, calling appended (when not nil) after it committed events.
func New(db *mongo.Database, appended func()) *Store {
	return &Store{users: db.Collection(Collection), appended: appended}
}

// Indexes creates the users collection's indexes, if missing: the unique keys of email and
// username (lower-cased, as the SQL engines compare them), the keyset order of listing, the
// refresh tokens' digests, the relay's pending documents, and the admins the guard counts.
func Indexes(ctx context.Context, db *mongo.Database) error {
	return database.EnsureMongoIndexes(ctx, db.Collection(Collection), []mongo.IndexModel{
		{Keys: bson.D{{Key: "email_key", Value: 1}}, Options: options.Index().SetName("email_key").SetUnique(true)},
		{Keys: bson.D{{Key: "username_key", Value: 1}}, Options: options.Index().SetName("username_key").SetUnique(true)},
		{Keys: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("created_at_id")},
		{Keys: bson.D{{Key: "sessions.tokens.digest", Value: 1}}, Options: options.Index().SetName("refresh_token_digest")},
		{Keys: bson.D{{Key: events.MongoPendingField, Value: 1}}, Options: options.Index().SetName("pending")},
		{Keys: bson.D{{Key: "role", Value: 1}, {Key: "is_active", Value: 1}}, Options: options.Index().SetName("role_active")},
	})
}

// Repository returns the UserRepository whose every call is a unit of work of its own.
func (s *Store) Repository() ports.UserRepository { return &users{unit{s: s}} }

// Sessions returns the SessionRepository whose every call is a unit of work of its own.
func (s *Store) Sessions() ports.SessionRepository { return &sessions{unit{s: s}} }

// UnitOfWork returns the store's unit of work.
func (s *Store) UnitOfWork() ports.UnitOfWork { return (*unitOfWork)(s) }

type unitOfWork Store

// Do runs fn on a new work, then commits it; on a conflict it runs fn again on what is
// committed now.
func (u *unitOfWork) Do(ctx context.Context, fn func(ctx context.Context, r ports.Repos) error) error {
	return (*Store)(u).run(ctx, func(w *work) error {
		return fn(ctx, ports.Repos{Users: &users{unit{w: w}}, Sessions: &sessions{unit{w: w}}, Events: &eventLog{w: w}, Admins: &admins{w: w}})
	})
}

// run runs fn on a new work and commits it, again while the commit conflicts (or fn meets a
// conflict, as the admin guard does). The users it marked leaving and did not write in the end
// are unmarked.
func (s *Store) run(ctx context.Context, fn func(w *work) error) (err error) {
	marked := map[uuid.UUID]bool{}
	var wrote uuid.UUID
	defer func() {
		for id := range marked {
			if err != nil || id != wrote {
				s.unmark(ctx, id)
			}
		}
	}()
	for attempt := range MaxAttempts {
		if attempt > 0 {
			// A little random wait spreads the losers of a race over the next rounds.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))): //nolint:gosec // G404: jitter, not a secret
			}
		}
		w := &work{s: s, entries: map[uuid.UUID]*entry{}, marked: marked}
		if err = fn(w); err == nil {
			wrote, err = w.commit(ctx)
		}
		if !errors.Is(err, errConflict) {
			return err
		}
	}
	// So much contention on one user is an overload to retry later (503), not a bug.
	return fmt.Errorf("%w: %w", database.ErrUnavailable, err)
}

// work is a unit of work in progress: the documents it read, as its calls changed them.
type work struct {
	s       *Store
	entries map[uuid.UUID]*entry
	// marked are the users the admin guard marked leaving, in this run's every attempt.
	marked map[uuid.UUID]bool
}

// entry is a user's document in a work.
type entry struct {
	// doc is nil when there is no such user.
	doc *userDoc
	// version is the stored version the work read; 0 for a user the work adds.
	version int64
	added   bool
	changed bool
	deleted bool
	events  []ports.Event
}

func (e *entry) writes() bool { return e.added || e.changed || e.deleted || len(e.events) > 0 }

// live returns the user's document, or a *domain.NotFoundError.
func (w *work) live(ctx context.Context, id uuid.UUID) (*entry, error) {
	e, err := w.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.doc == nil || e.deleted {
		return nil, &domain.NotFoundError{ID: id}
	}
	return e, nil
}

// load reads the user's document once per work.
func (w *work) load(ctx context.Context, id uuid.UUID) (*entry, error) {
	if e, ok := w.entries[id]; ok {
		return e, nil
	}
	var d userDoc
	err := findOne(ctx, w.s.users, live(bson.E{Key: "_id", Value: database.MongoID(id)})).Decode(&d)
	e := &entry{}
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
	case err != nil:
		return nil, mapError(err)
	default:
		e.doc, e.version = &d, d.Version
	}
	w.entries[id] = e
	return e, nil
}

// commit writes the one user the work changed, if any, and returns its id.
func (w *work) commit(ctx context.Context) (uuid.UUID, error) {
	var (
		id      uuid.UUID
		e       *entry
		writing int
	)
	for eid, ent := range w.entries {
		if ent.writes() {
			id, e, writing = eid, ent, writing+1
		}
	}
	switch {
	case writing == 0:
		return uuid.Nil, nil
	case writing > 1:
		return uuid.Nil, ErrSeveralUsers
	}
	envs, err := outbox.Envelopes(ctx, e.events)
	if err != nil {
		return uuid.Nil, err
	}
	switch {
	case e.added:
		err = w.insert(ctx, e, envs)
	case e.deleted:
		err = w.delete(ctx, id, e, envs)
	default:
		err = w.update(ctx, id, e, envs)
	}
	if err == nil && len(envs) > 0 && w.s.appended != nil {
		w.s.appended()
	}
	return id, err
}

func (w *work) insert(ctx context.Context, e *entry, envs []events.Event) error {
	d := *e.doc
	d.Version = 1
	var err error
	if d.Outbox, err = events.MongoOutbox(0, envs); err != nil {
		return err
	}
	d.OutboxSeq, d.Pending = int64(len(envs)), len(envs) > 0
	if _, err := w.s.users.InsertOne(ctx, d); err != nil {
		return w.writeError(ctx, err, e.doc)
	}
	return nil
}

// update saves the document's fields and sessions and appends its events, if nobody
// committed a change to the user since the work read it.
func (w *work) update(ctx context.Context, id uuid.UUID, e *entry, envs []events.Event) error {
	d := e.doc
	set := bson.D{
		{Key: "version", Value: e.version + 1},
		{Key: "username", Value: d.Username}, {Key: "email", Value: d.Email},
		{Key: "username_key", Value: d.UsernameKey}, {Key: "email_key", Value: d.EmailKey},
		{Key: "is_active", Value: d.Active}, {Key: "role", Value: d.Role},
		{Key: "password_hash", Value: d.PasswordHash}, {Key: "email_verified_at", Value: d.EmailVerifiedAt},
		{Key: "updated_at", Value: d.UpdatedAt},
		{Key: "sessions", Value: d.Sessions},
		// A change of the user takes back the admin guard's mark: the one it was for, or one
		// a crash left behind (see admins).
		{Key: leavingField, Value: false},
	}
	return w.write(ctx, id, e, set, envs)
}

// delete leaves a tombstone that holds the user's last events until the relay has published
// them and removes it; the email and username are free at once. A user with no event to
// publish is removed outright.
func (w *work) delete(ctx context.Context, id uuid.UUID, e *entry, envs []events.Event) error {
	filter := bson.D{{Key: "_id", Value: database.MongoID(id)}, {Key: "version", Value: e.version}}
	if len(envs) == 0 && !e.doc.Pending {
		res, err := w.s.users.DeleteOne(ctx, append(filter, bson.E{Key: events.MongoPendingField, Value: false}))
		if err != nil {
			return mapError(err)
		}
		if res.DeletedCount == 0 {
			return errConflict
		}
		return nil
	}
	freed := "deleted:" + id.String()
	set := bson.D{
		{Key: "version", Value: e.version + 1},
		{Key: events.MongoDeletedField, Value: true},
		{Key: "username_key", Value: freed}, {Key: "email_key", Value: freed},
		{Key: "password_hash", Value: ""},
		{Key: "sessions", Value: []sessionDoc{}},
	}
	if len(envs) == 0 {
		// The relay may have emptied the outbox since the read: pending sends it to look, and
		// it removes a tombstone with nothing left to publish.
		set = append(set, bson.E{Key: events.MongoPendingField, Value: true})
	}
	return w.write(ctx, id, e, set, envs)
}

// write applies set and appends envs to the outbox in one update filtered on the version read.
func (w *work) write(ctx context.Context, id uuid.UUID, e *entry, set bson.D, envs []events.Event) error {
	update := bson.D{}
	if len(envs) > 0 {
		pending, err := events.MongoOutbox(e.doc.OutboxSeq, envs)
		if err != nil {
			return err
		}
		set = append(set,
			bson.E{Key: events.MongoOutboxSeqField, Value: e.doc.OutboxSeq + int64(len(envs))},
			bson.E{Key: events.MongoPendingField, Value: true})
		update = append(update, bson.E{Key: "$push", Value: bson.D{{Key: events.MongoOutboxField, Value: bson.D{{Key: "$each", Value: pending}}}}})
	}
	update = append(bson.D{{Key: "$set", Value: set}}, update...)
	res, err := w.s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: database.MongoID(id)}, {Key: "version", Value: e.version}}, update)
	if err != nil {
		return w.writeError(ctx, err, e.doc)
	}
	if res.MatchedCount == 0 {
		return errConflict
	}
	return nil
}

// writeError maps a refused write: a unique index's refusal is a *domain.AlreadyExistsError on
// the field another user holds (asked of the database, as servers word the error
// differently), the rest as mapError does.
func (w *work) writeError(ctx context.Context, err error, d *userDoc) error {
	if !database.MongoDuplicate(err) {
		return mapError(err)
	}
	other := bson.D{{Key: "email_key", Value: d.EmailKey}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: d.ID}}}}
	n, cerr := w.s.users.CountDocuments(ctx, other)
	if cerr != nil {
		return mapError(cerr)
	}
	if n > 0 {
		return &domain.AlreadyExistsError{Field: domain.FieldEmail, Value: d.Email}
	}
	return &domain.AlreadyExistsError{Field: domain.FieldUsername, Value: d.Username}
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	return database.ClassifyMongo(fmt.Errorf("users mongodb: %w", err))
}
