-- +goose Up
-- See the PostgreSQL migration: the relay keeps a mark of the last event it published instead
-- of updating every delivered row. SQLite has one writer, so the insertion order (seq) is the
-- commit order: the mark and the changes feed's cursor are a seq.
CREATE TABLE event_relay (
    part     INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
INSERT INTO event_relay (part, last_seq)
SELECT 0, coalesce(max(seq), 0) FROM event_outbox WHERE delivered_at IS NOT NULL;

CREATE TABLE event_outbox_marked (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    part        INTEGER NOT NULL,
    occurred_at DATETIME NOT NULL,
    envelope    TEXT NOT NULL
);
-- One relay, one part: every event is in part 0.
INSERT INTO event_outbox_marked (seq, event_id, type, part, occurred_at, envelope)
SELECT seq, event_id, type, 0, occurred_at, envelope FROM event_outbox;
DROP TABLE event_outbox;
ALTER TABLE event_outbox_marked RENAME TO event_outbox;
CREATE INDEX event_outbox_occurred_at_idx ON event_outbox (occurred_at);
DROP TABLE event_feed;

-- +goose Down
CREATE TABLE event_feed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_position INTEGER NOT NULL
);
INSERT INTO event_feed (id, last_position) SELECT 1, last_seq FROM event_relay;
CREATE TABLE event_outbox_unmarked (
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
INSERT INTO event_outbox_unmarked (seq, event_id, type, subject, part, occurred_at, envelope, delivered_at, position)
SELECT o.seq, o.event_id, o.type, coalesce(json_extract(o.envelope, '$.subject'), ''), o.part, o.occurred_at, o.envelope,
       CASE WHEN o.seq <= r.last_seq THEN CURRENT_TIMESTAMP END,
       CASE WHEN o.seq <= r.last_seq THEN o.seq END
FROM event_outbox o, event_relay r;
DROP TABLE event_outbox;
ALTER TABLE event_outbox_unmarked RENAME TO event_outbox;
CREATE UNIQUE INDEX event_outbox_position_idx ON event_outbox (position) WHERE position IS NOT NULL;
CREATE INDEX event_outbox_pending_idx ON event_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX event_outbox_delivered_at_idx ON event_outbox (delivered_at) WHERE delivered_at IS NOT NULL;
DROP TABLE event_relay;
