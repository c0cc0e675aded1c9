-- +goose Up
-- See the PostgreSQL migration. SQLite has one writer: no parts to lock, commits in order.
CREATE TABLE event_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    part         INTEGER NOT NULL,
    occurred_at  DATETIME NOT NULL,
    envelope     TEXT NOT NULL,
    delivered_at DATETIME,
    position     INTEGER
);
CREATE UNIQUE INDEX event_outbox_position_idx ON event_outbox (position) WHERE position IS NOT NULL;
CREATE INDEX event_outbox_pending_idx ON event_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX event_outbox_delivered_at_idx ON event_outbox (delivered_at) WHERE delivered_at IS NOT NULL;

CREATE TABLE event_feed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_position INTEGER NOT NULL
);
INSERT INTO event_feed (id, last_position) VALUES (1, 0);

CREATE TABLE event_processed (
    handler      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at DATETIME NOT NULL,
    PRIMARY KEY (handler, event_id)
);

CREATE TABLE event_dead_letters (
    handler   TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    error     TEXT NOT NULL,
    attempts  INTEGER NOT NULL,
    failed_at DATETIME NOT NULL,
    PRIMARY KEY (handler, event_id)
);

-- +goose Down
DROP TABLE event_dead_letters;
DROP TABLE event_processed;
DROP TABLE event_feed;
DROP TABLE event_outbox;
