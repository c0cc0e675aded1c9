-- +goose Up
-- The audit trail: who did what to whom, and when, one row per event. It outlives the users it
-- names (no foreign key: a deleted user's trail is the record of the deletion) and holds no
-- secret: field names, never values.
CREATE TABLE audit_events (
    event_id    UUID PRIMARY KEY,               -- UUIDv7: newest first is id order
    type        TEXT NOT NULL,
    actor       TEXT NOT NULL,                  -- a user id, "self" or "system"
    target      TEXT NOT NULL,                  -- the user the event is about
    request_id  TEXT NOT NULL,
    changed     TEXT NOT NULL,                  -- names of the changed fields, comma-separated
    occurred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_target_idx ON audit_events (target, event_id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, event_id);

-- +goose Down
DROP TABLE audit_events;
