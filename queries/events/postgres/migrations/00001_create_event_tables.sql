-- +goose Up
-- The transactional outbox: a module writes its events here in the transaction of the change
-- they describe; the relay publishes them and records their position in the changes feed.
CREATE TABLE event_outbox (
    seq          BIGSERIAL PRIMARY KEY,           -- insertion order: the relay's order
    event_id     UUID NOT NULL,                   -- a UUIDv7 made by the writer: unique without an index
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    part         SMALLINT NOT NULL,               -- hash of the subject: one relay at a time per part keeps a subject's order
    occurred_at  TIMESTAMPTZ NOT NULL,
    envelope     TEXT NOT NULL,                   -- the CloudEvent, as published
    delivered_at TIMESTAMPTZ,
    position     BIGINT                           -- the changes feed's order, given at delivery in commit order
);
-- Every index costs each registration an insert: the outbox keeps the two it reads by, and
-- the feed's index holds delivered events only.
CREATE UNIQUE INDEX event_outbox_position_idx ON event_outbox (position) WHERE position IS NOT NULL;
CREATE INDEX event_outbox_pending_idx ON event_outbox (part, seq) WHERE delivered_at IS NULL;
CREATE INDEX event_outbox_delivered_at_idx ON event_outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- One row: the last feed position given. Its row lock serializes the relays' commits, so the
-- feed's positions become visible in order and a reader never skips one.
CREATE TABLE event_feed (
    id            SMALLINT PRIMARY KEY CHECK (id = 1),
    last_position BIGINT NOT NULL
);
INSERT INTO event_feed (id, last_position) VALUES (1, 0);

-- Effectively-once handlers: the events a handler has processed, written in its own transaction.
CREATE TABLE event_processed (
    handler      TEXT NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (handler, event_id)
);

-- Events a handler failed on after every retry, for an admin to list and replay.
CREATE TABLE event_dead_letters (
    handler   TEXT NOT NULL,
    event_id  UUID NOT NULL,
    envelope  TEXT NOT NULL,
    error     TEXT NOT NULL,
    attempts  INTEGER NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (handler, event_id)
);

-- +goose Down
DROP TABLE event_dead_letters;
DROP TABLE event_processed;
DROP TABLE event_feed;
DROP TABLE event_outbox;
