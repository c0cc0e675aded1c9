-- +goose Up
-- See the PostgreSQL migration.
CREATE TABLE audit_events (
    event_id    TEXT PRIMARY KEY NOT NULL,
    type        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    target      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    changed     TEXT NOT NULL,
    occurred_at DATETIME NOT NULL
);
CREATE INDEX audit_events_target_idx ON audit_events (target, event_id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, event_id);

-- +goose Down
DROP TABLE audit_events;
