package events

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"

	"github.com/go-faster/jx"

	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Feed serves the changes feed, GET /events: the Events operation group of the platform's
// part of the contract. A consumer that was down catches up from its last cursor, without a
// broker.
type Feed struct {
	store    store
	identity *identity.Resolver
}

var _ oas.EventsHandler = (*Feed)(nil)

// ListEvents handles GET /events.
func (f *Feed) ListEvents(ctx context.Context, params oas.ListEventsParams) (oas.ListEventsRes, error) {
	caller, err := f.identity.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if !caller.IsAdmin() {
		return nil, problem.New(http.StatusForbidden, "Only admins may read the changes feed.")
	}
	after := int64(0)
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

// A cursor is a feed position, opaque to clients: base64url of 8 big-endian bytes.
func encodeCursor(position int64) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(position)))
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	p := int64(binary.BigEndian.Uint64(b))
	return p, p >= 0
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
