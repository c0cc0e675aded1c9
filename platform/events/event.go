// Package events is the event backbone of the modular monolith: modules cooperate through
// domain events, never through calls into each other.
//
//   - An Event is a CloudEvents 1.0 JSON envelope with two extension attributes, the actor and
//     the request id.
//   - The transactional outbox: a module writes its events in the transaction of the change
//     they describe (AppendPostgres, QueuePostgres, AppendSQLite), so a committed change always
//     has its events and a rolled-back one never does.
//   - The Relay publishes pending events through a Broker, at least once and in order per
//     subject, marks them delivered with a position in the changes feed, and prunes them after
//     the retention period.
//   - A module subscribes with a Subscription in the "event_subscriptions" fx group; failed
//     handlers are retried with backoff, then dead-lettered; MarkProcessed* make a handler
//     effectively once.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Actors that are not a user id.
const (
	// ActorSelf is a caller acting for themself without an account yet (self-registration).
	ActorSelf = "self"
	// ActorSystem is the service itself or an operator's command.
	ActorSystem = "system"
)

// Event is a domain event. Its JSON form is a CloudEvents 1.0 envelope; Data is the versioned
// payload its Type documents, and never holds a secret.
type Event struct {
	// ID is a UUIDv7: unique, and time-ordered.
	ID uuid.UUID
	// Source names the module that emitted the event, such as "userservice/users".
	Source string
	// Type names the event and its payload's version, such as userservice.user.registered.v1.
	Type string
	// Subject is what the event is about: for user events, the user's id.
	Subject string
	// Time is when the change happened.
	Time time.Time
	// Data is the payload, as JSON.
	Data json.RawMessage
	// Actor is who made the change: a user id, ActorSelf or ActorSystem.
	Actor string
	// RequestID is the id of the request that made the change, when there was one.
	RequestID string
}

// New returns an event with a new id, its payload data encoded as JSON.
func New(source, typ, subject string, at time.Time, actor, requestID string, data any) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	return Event{ID: id, Source: source, Type: typ, Subject: subject, Time: at.UTC(), Data: raw, Actor: actor, RequestID: requestID}, nil
}

// envelope is the CloudEvents 1.0 structured JSON form.
type envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              uuid.UUID       `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Actor           string          `json:"actor,omitempty"`
	RequestID       string          `json:"requestid,omitempty"`
}

// MarshalJSON encodes the event as a CloudEvents 1.0 JSON envelope.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(envelope{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time,
		DataContentType: "application/json", Data: e.Data, Actor: e.Actor, RequestID: e.RequestID,
	})
}

// UnmarshalJSON decodes a CloudEvents 1.0 JSON envelope.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if env.SpecVersion != "1.0" {
		return fmt.Errorf("events: specversion %q, want 1.0", env.SpecVersion)
	}
	if env.ID == uuid.Nil || env.Type == "" || env.Source == "" {
		return errors.New("events: an envelope needs id, source and type")
	}
	*e = Event{ID: env.ID, Source: env.Source, Type: env.Type, Subject: env.Subject, Time: env.Time,
		Data: env.Data, Actor: env.Actor, RequestID: env.RequestID}
	return nil
}

// Decode decodes the payload into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }
