package events

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/go-faster/jx"
	"github.com/google/uuid"

	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Feed serves the Events operation group of the platform's part of the contract: the changes
// feed, GET /events (a consumer that was down catches up from its last cursor, without a
// broker), and the dead letters, listed and replayed. Admins only.
type Feed struct {
	store    store
	identity *identity.Resolver
	subs     []Subscription
}

var _ oas.EventsHandler = (*Feed)(nil)

// admin checks that the caller is an admin.
func (f *Feed) admin(ctx context.Context) error {
	caller, err := f.identity.Caller(ctx)
	if err != nil {
		return err
	}
	if !caller.IsAdmin() {
		return problem.New(http.StatusForbidden, "Only admins may read or replay events.")
	}
	return nil
}

// ListEvents handles GET /events.
func (f *Feed) ListEvents(ctx context.Context, params oas.ListEventsParams) (oas.ListEventsRes, error) {
	if err := f.admin(ctx); err != nil {
		return nil, err
	}
	var after Position
	if c, ok := params.After.Get(); ok {
		if after, ok = decodeCursor(c); !ok {
			return nil, problem.New(http.StatusBadRequest, "Parameter after is invalid: use the next_cursor of a previous page.",
				problem.FieldError{Field: "after", Message: "is not a cursor this service issued"})
		}
	}
	entries, err := f.store.feed(ctx, after, params.Type.Or(""), params.Limit.Or(100))
	if err != nil {
		return nil, err
	}
	page := &oas.EventPage{Items: make([]oas.CloudEvent, len(entries)), NextCursor: encodeCursor(after)}
	for i, entry := range entries {
		if page.Items[i], err = toAPI(entry.Event); err != nil {
			return nil, err
		}
		page.NextCursor = encodeCursor(entry.Position)
	}
	return page, nil
}

// A cursor is a feed position, opaque to clients: base64url of its transaction (8 bytes, big
// endian) and its event id.
func encodeCursor(p Position) string {
	return base64.RawURLEncoding.EncodeToString(append(binary.BigEndian.AppendUint64(nil, uint64(p.Tx)), p.ID[:]...))
}

func decodeCursor(s string) (Position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8+len(uuid.UUID{}) {
		return Position{}, false
	}
	p := Position{Tx: int64(binary.BigEndian.Uint64(b))}
	copy(p.ID[:], b[8:])
	return p, p.Tx >= 0
}

func toAPI(e Event) (oas.CloudEvent, error) {
	data := oas.CloudEventData{}
	if err := jx.DecodeBytes(e.Data).ObjBytes(func(d *jx.Decoder, key []byte) error {
		raw, err := d.Raw()
		data[string(key)] = append(jx.Raw(nil), raw...)
		return err
	}); err != nil {
		return oas.CloudEvent{}, err
	}
	out := oas.CloudEvent{
		Specversion: oas.CloudEventSpecversion10, ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time,
		Datacontenttype: oas.CloudEventDatacontenttypeApplicationJSON, Data: data,
	}
	if e.Subject != "" {
		out.Subject = oas.NewOptString(e.Subject)
	}
	if e.Actor != "" {
		out.Actor = oas.NewOptString(e.Actor)
	}
	if e.RequestID != "" {
		out.Requestid = oas.NewOptString(e.RequestID)
	}
	return out, nil
}

// ListDeadLetters handles GET /events/dead-letters.
func (f *Feed) ListDeadLetters(ctx context.Context, params oas.ListDeadLettersParams) (oas.ListDeadLettersRes, error) {
	if err := f.admin(ctx); err != nil {
		return nil, err
	}
	dls, err := f.store.deadLetters(ctx, params.Limit.Or(100))
	if err != nil {
		return nil, err
	}
	out := &oas.DeadLetterList{Items: make([]oas.DeadLetter, len(dls))}
	for i, d := range dls {
		ev, err := toAPI(d.Event)
		if err != nil {
			return nil, err
		}
		out.Items[i] = oas.DeadLetter{Handler: d.Handler, Event: ev, Error: d.Error, Attempts: d.Attempts, FailedAt: d.FailedAt}
	}
	return out, nil
}

// ReplayDeadLetter handles POST /events/dead-letters/replay: it runs the handler on the event
// again, here, and removes the dead letter when it succeeds.
func (f *Feed) ReplayDeadLetter(ctx context.Context, req *oas.DeadLetterRef) (oas.ReplayDeadLetterRes, error) {
	if err := f.admin(ctx); err != nil {
		return nil, err
	}
	d, err := f.store.deadLetter(ctx, req.Handler, req.EventID)
	if errors.Is(err, errNoDeadLetter) {
		return nil, problem.New(http.StatusNotFound, "No dead letter of handler "+req.Handler+" for event "+req.EventID.String()+".")
	}
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.subs, func(s Subscription) bool { return s.Handler == d.Handler })
	if i < 0 {
		return nil, problem.New(http.StatusConflict, "Handler "+d.Handler+" is not subscribed in this service: its module is not running.")
	}
	if err := f.subs[i].Handle(ctx, d.Event); err != nil {
		if rerr := f.store.addDeadLetter(ctx, d.Handler, d.Event, err, d.Attempts+1, time.Now()); rerr != nil {
			return nil, rerr
		}
		return nil, problem.New(http.StatusConflict, "Handler "+d.Handler+" failed again; the dead letter stays with the new error.")
	}
	if err := f.store.deleteDeadLetter(ctx, d.Handler, d.Event.ID); err != nil {
		return nil, err
	}
	return &oas.ReplayDeadLetterNoContent{}, nil
}
