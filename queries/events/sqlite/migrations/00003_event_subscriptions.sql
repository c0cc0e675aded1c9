-- +goose Up
-- See the PostgreSQL migration.
CREATE TABLE event_subscriptions (
    handler    TEXT PRIMARY KEY,
    started_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE event_subscriptions;
