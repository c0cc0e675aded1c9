-- +goose Up
-- The relay keeps, per part, a mark of the last event it published instead of updating every
-- delivered row: publishing no longer writes a row version and three index entries per event,
-- and the outbox is append-only until pruned.
--
-- Events are ordered by the id of the transaction that wrote them (xid), then by event id (a
-- UUIDv7, increasing within a writer). The relay and the changes feed read only events of
-- transactions older than the oldest one still running (pg_snapshot_xmin): every such
-- transaction has finished, so no event can later appear before what was read, and the order
-- is final. A subject's events keep their order because every transaction that records an
-- event about a subject writes or locks the subject's row before anything else (later writers
-- wait for that lock, and so take a later xid). The cost: a write transaction that stays open
-- delays (never loses) the events committed after it began.
CREATE TABLE event_relay (
    part       SMALLINT PRIMARY KEY,
    last_xid   BIGINT NOT NULL,
    last_event UUID NOT NULL
);

-- Events already here: those delivered come first (xid 0) and are behind every part's mark,
-- those pending follow (xid 1), in event id order.
ALTER TABLE event_outbox ADD COLUMN xid BIGINT;
UPDATE event_outbox SET xid = CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END;
INSERT INTO event_relay (part, last_xid, last_event)
SELECT p, 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff' FROM generate_series(0, 7) AS p;

ALTER TABLE event_outbox
    DROP CONSTRAINT event_outbox_pkey,
    DROP COLUMN seq,
    DROP COLUMN subject,
    DROP COLUMN delivered_at,
    DROP COLUMN position,
    ALTER COLUMN xid SET NOT NULL,
    ALTER COLUMN xid SET DEFAULT pg_current_xact_id()::text::bigint,
    ADD PRIMARY KEY (xid, event_id);
-- Pruning goes by time: a block range index costs next to nothing on an append-only table.
CREATE INDEX event_outbox_occurred_at_idx ON event_outbox USING brin (occurred_at);
DROP TABLE event_feed;

-- +goose Down
-- Back to a row per delivery: what the marks cover is delivered, in (xid, event id) order.
CREATE TABLE event_feed (
    id            SMALLINT PRIMARY KEY CHECK (id = 1),
    last_position BIGINT NOT NULL
);
ALTER TABLE event_outbox
    DROP CONSTRAINT event_outbox_pkey,
    ADD COLUMN seq BIGSERIAL,
    ADD COLUMN subject TEXT,
    ADD COLUMN delivered_at TIMESTAMPTZ,
    ADD COLUMN position BIGINT;
UPDATE event_outbox o SET delivered_at = now()
FROM event_relay r WHERE o.part = r.part AND (o.xid, o.event_id) <= (r.last_xid, r.last_event);
UPDATE event_outbox o SET seq = n.seq, position = CASE WHEN o.delivered_at IS NULL THEN NULL ELSE n.seq END
FROM (SELECT xid, event_id, row_number() OVER (ORDER BY xid, event_id) AS seq FROM event_outbox) n
WHERE o.xid = n.xid AND o.event_id = n.event_id;
SELECT setval(pg_get_serial_sequence('event_outbox', 'seq'), coalesce(max(seq), 0) + 1, false) FROM event_outbox;
UPDATE event_outbox SET subject = coalesce(envelope::json->>'subject', '');
INSERT INTO event_feed (id, last_position) SELECT 1, coalesce(max(position), 0) FROM event_outbox;
DROP INDEX event_outbox_occurred_at_idx;
ALTER TABLE event_outbox
    DROP COLUMN xid,
    ALTER COLUMN subject SET NOT NULL,
    ADD PRIMARY KEY (seq);
CREATE UNIQUE INDEX event_outbox_position_idx ON event_outbox (position) WHERE position IS NOT NULL;
CREATE INDEX event_outbox_pending_idx ON event_outbox (part, seq) WHERE delivered_at IS NULL;
CREATE INDEX event_outbox_delivered_at_idx ON event_outbox (delivered_at) WHERE delivered_at IS NOT NULL;
DROP TABLE event_relay;
