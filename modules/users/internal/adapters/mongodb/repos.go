package mongodb

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

// unit is what the repositories share: the work they belong to, or, outside a unit of work,
// the store on which each call runs as a unit of work of its own.
type unit struct {
	s *Store
	w *work
}

// in runs fn in the repository's work, or in a new one that it commits.
func (u unit) in(ctx context.Context, fn func(w *work) error) error {
	if u.w != nil {
		return fn(u.w)
	}
	return u.s.run(ctx, fn)
}

func (u unit) coll() *mongo.Collection {
	if u.w != nil {
		return u.w.s.users
	}
	return u.s.users
}

// withoutOutbox leaves a document's pending events out of a read: no use case reads them, and
// they are the bulk of a document just changed.
var withoutOutbox = bson.D{{Key: events.MongoOutboxField, Value: 0}}

// findOne reads the one document that filter matches, its outbox left out.
func findOne(ctx context.Context, c *mongo.Collection, filter bson.D) *mongo.SingleResult {
	return c.FindOne(ctx, filter, options.FindOne().SetProjection(withoutOutbox))
}

// live is the filter of a user's document that is not a deletion's tombstone.
func live(filter ...bson.E) bson.D {
	return append(bson.D{{Key: events.MongoDeletedField, Value: false}}, filter...)
}

// users is the UserRepository.
type users struct{ unit }

var (
	_ ports.UserRepository = (*users)(nil)
	_ ports.UsersReader    = (*users)(nil)
)

// Add stores a new user with its events in one insert.
func (r *users) Add(ctx context.Context, u *domain.User, evs ...ports.Event) error {
	return r.in(ctx, func(w *work) error {
		if e, ok := w.entries[u.ID()]; ok && e.doc != nil {
			return &domain.AlreadyExistsError{Field: domain.FieldUsername, Value: u.Username()}
		}
		w.entries[u.ID()] = &entry{doc: newDoc(u), added: true, events: slices.Clone(evs)}
		return nil
	})
}

// Get returns the user with the id.
func (r *users) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	var u *domain.User
	err := r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, id)
		if err == nil {
			u = e.doc.user()
		}
		return err
	})
	return u, err
}

// GetForUpdate is Get: the unit of work's write is filtered on the version it read, which
// protects the read-modify-write as a lock would.
func (r *users) GetForUpdate(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	return r.Get(ctx, id)
}

// GetCaller reads the caller's document, sessions included, in one query.
func (r *users) GetCaller(ctx context.Context, c ports.Credential) (ports.CallerAccount, error) {
	var d userDoc
	err := findOne(ctx, r.coll(), live(bson.E{Key: "_id", Value: database.MongoID(c.UserID)})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ports.CallerAccount{}, nil
	}
	if err != nil {
		return ports.CallerAccount{}, mapError(err)
	}
	return ports.CallerAccount{User: d.user(), SessionExpires: d.sessionExpiry(c.SessionID)}, nil
}

// GetCallerAndUser reads the caller's document and the user's in one query.
func (r *users) GetCallerAndUser(ctx context.Context, c ports.Credential, id uuid.UUID) (ports.CallerAccount, *domain.User, error) {
	ids := bson.A{database.MongoID(c.UserID), database.MongoID(id)}
	docs, err := r.find(ctx, live(bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}), options.Find())
	if err != nil {
		return ports.CallerAccount{}, nil, err
	}
	var (
		caller ports.CallerAccount
		user   *domain.User
	)
	for _, d := range docs {
		switch fromBinary(d.ID) {
		case c.UserID:
			caller = ports.CallerAccount{User: d.user(), SessionExpires: d.sessionExpiry(c.SessionID)}
			if id == c.UserID {
				user = d.user()
			}
		case id:
			user = d.user()
		}
	}
	return caller, user, nil
}

// GetMany returns the users with the ids that exist, in one query (ports.UsersReader).
func (r *users) GetMany(ctx context.Context, ids []uuid.UUID) ([]*domain.User, error) {
	in := make(bson.A, len(ids))
	for i, id := range ids {
		in[i] = database.MongoID(id)
	}
	docs, err := r.find(ctx, live(bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}), options.Find())
	if err != nil {
		return nil, err
	}
	return toUsers(docs), nil
}

// GetByEmail returns the user with the email, without regard to case.
func (r *users) GetByEmail(ctx context.Context, email string) (*domain.User, error) {
	var d userDoc
	err := findOne(ctx, r.coll(), live(bson.E{Key: "email_key", Value: key(email)})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, &domain.NotFoundError{}
	}
	if err != nil {
		return nil, mapError(err)
	}
	return d.user(), nil
}

// List returns a page of users in (created_at, _id) order: BSON compares binary values of one
// length and subtype byte by byte, which is the order of the ids' text, as on the SQL engines.
func (r *users) List(ctx context.Context, q ports.ListQuery) ([]*domain.User, error) {
	filter := live()
	if q.IsActive != nil {
		filter = append(filter, bson.E{Key: "is_active", Value: *q.IsActive})
	}
	if q.After != nil {
		at := micros(q.After.CreatedAt)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: at}}}},
			bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: database.MongoID(q.After.ID)}}}},
		}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(q.Limit))
	docs, err := r.find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	return toUsers(docs), nil
}

// toUsers returns the users of docs.
func toUsers(docs []userDoc) []*domain.User {
	out := make([]*domain.User, len(docs))
	for i, d := range docs {
		out[i] = d.user()
	}
	return out
}

// find reads the documents filter matches, as opts says, their outboxes left out.
func (r *users) find(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]userDoc, error) {
	cur, err := r.coll().Find(ctx, filter, opts.SetProjection(withoutOutbox))
	if err != nil {
		return nil, mapError(err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapError(err)
	}
	return docs, nil
}

// Update saves every field of the user.
func (r *users) Update(ctx context.Context, u *domain.User) error {
	return r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, u.ID())
		if err != nil {
			return err
		}
		e.doc.set(u)
		e.changed = true
		return nil
	})
}

// Delete removes the user with its sessions.
func (r *users) Delete(ctx context.Context, id uuid.UUID) error {
	return r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, id)
		if err != nil {
			return err
		}
		e.deleted = true
		return nil
	})
}

// eventLog records events in the document of their subject.
type eventLog struct{ w *work }

// Record adds evs to the outbox of their subjects' documents, written at the commit.
func (l *eventLog) Record(ctx context.Context, evs ...ports.Event) error {
	for _, ev := range evs {
		e, err := l.w.load(ctx, ev.Subject)
		if err != nil {
			return err
		}
		if e.doc == nil {
			return &domain.NotFoundError{ID: ev.Subject}
		}
		e.events = append(e.events, ev)
	}
	return nil
}

// sessions is the SessionRepository: sessions live in their user's document.
type sessions struct{ unit }

var _ ports.SessionRepository = (*sessions)(nil)

// Add stores a new session in its user's document.
func (r *sessions) Add(ctx context.Context, s domain.Session, tokenDigest []byte) error {
	return r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, s.UserID)
		if err != nil {
			return err
		}
		e.doc.Sessions = append(e.doc.Sessions, newSessionDoc(s, tokenDigest))
		e.changed = true
		return nil
	})
}

// UseRefreshToken finds the user whose session holds the digest and marks the token used in
// that user's work: of concurrent uses, the first to commit wins, and the others, run again,
// find it used.
func (r *sessions) UseRefreshToken(ctx context.Context, digest []byte, now time.Time) (domain.Session, bool, error) {
	var (
		sess   domain.Session
		reused bool
	)
	err := r.in(ctx, func(w *work) error {
		var owner userDoc
		err := findOne(ctx, w.s.users, live(bson.E{Key: "sessions.tokens.digest", Value: digest})).Decode(&owner)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return ports.ErrUnknownRefreshToken
		}
		if err != nil {
			return mapError(err)
		}
		userID := fromBinary(owner.ID)
		if _, ok := w.entries[userID]; !ok {
			// The document just read is the work's read of the user.
			w.entries[userID] = &entry{doc: &owner, version: owner.Version}
		}
		e, err := w.live(ctx, userID)
		if err != nil {
			return ports.ErrUnknownRefreshToken
		}
		for i := range e.doc.Sessions {
			sd := &e.doc.Sessions[i]
			for j := range sd.Tokens {
				t := &sd.Tokens[j]
				if !bytes.Equal(t.Digest, digest) {
					continue
				}
				sess, reused = sd.domain(userID), t.UsedAt != 0
				if !reused {
					t.UsedAt = micros(domain.Timestamp(now))
					e.changed = true
				}
				return nil
			}
		}
		return ports.ErrUnknownRefreshToken // revoked between the query and the read
	})
	return sess, reused, err
}

// Refreshed saves the session's last use and gives it the new token.
func (r *sessions) Refreshed(ctx context.Context, s domain.Session, tokenDigest []byte) error {
	return r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, s.UserID)
		if err != nil {
			return ports.ErrUnknownRefreshToken
		}
		i := e.doc.session(s.ID)
		if i < 0 {
			return ports.ErrUnknownRefreshToken
		}
		e.doc.Sessions[i].set(s)
		e.doc.Sessions[i].rotate(tokenDigest)
		e.changed = true
		return nil
	})
}

// List returns the user's sessions that have not expired at now, newest first.
func (r *sessions) List(ctx context.Context, userID uuid.UUID, now time.Time) ([]domain.Session, error) {
	var out []domain.Session
	err := r.in(ctx, func(w *work) error {
		e, err := w.live(ctx, userID)
		var nf *domain.NotFoundError
		if errors.As(err, &nf) {
			return nil // no user, no sessions
		}
		if err != nil {
			return err // the database failed, which is not having no sessions
		}
		for _, sd := range e.doc.Sessions {
			if s := sd.domain(userID); s.Live(now) {
				out = append(out, s)
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b domain.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:])
	})
	return out, err
}

// Delete revokes one of the user's sessions.
func (r *sessions) Delete(ctx context.Context, userID, id uuid.UUID) (bool, error) {
	ids, err := r.remove(ctx, userID, func(sd sessionDoc) bool { return fromBinary(sd.ID) == id })
	return len(ids) > 0, err
}

// DeleteAll revokes the user's sessions but except.
func (r *sessions) DeleteAll(ctx context.Context, userID, except uuid.UUID) ([]uuid.UUID, error) {
	return r.remove(ctx, userID, func(sd sessionDoc) bool { return fromBinary(sd.ID) != except })
}

// DeleteExpired removes the user's sessions that have expired at now.
func (r *sessions) DeleteExpired(ctx context.Context, userID uuid.UUID, now time.Time) error {
	_, err := r.remove(ctx, userID, func(sd sessionDoc) bool { return !sd.domain(userID).Live(now) })
	return err
}

// remove deletes the user's sessions that match and returns their ids.
func (r *sessions) remove(ctx context.Context, userID uuid.UUID, match func(sessionDoc) bool) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := r.in(ctx, func(w *work) error {
		ids = nil
		e, err := w.live(ctx, userID)
		var nf *domain.NotFoundError
		if errors.As(err, &nf) {
			return nil // no user, no sessions
		}
		if err != nil {
			return err // the database failed, which is not having no sessions
		}
		kept := e.doc.Sessions[:0:0]
		for _, sd := range e.doc.Sessions {
			if match(sd) {
				ids = append(ids, fromBinary(sd.ID))
			} else {
				kept = append(kept, sd)
			}
		}
		if len(ids) > 0 {
			e.doc.Sessions, e.changed = kept, true
		}
		return nil
	})
	return ids, err
}
