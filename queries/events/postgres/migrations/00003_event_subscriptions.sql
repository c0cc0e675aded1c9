-- +goose Up
-- The subscriptions the embedded broker has started. A subscription that starts at the
-- beginning (events.StartBeginning) reads the retained events when it is new, once: not at
-- every start of the service. (With NATS, its durable consumer is that record.)
CREATE TABLE event_subscriptions (
    handler    TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE event_subscriptions;
