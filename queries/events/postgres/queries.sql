-- Queries of the events platform on PostgreSQL; sqlc generates platform/events/pgstore.

-- name: AppendEvent :exec
-- xid, the writing transaction's id, is the column's default.
INSERT INTO event_outbox (event_id, type, part, occurred_at, envelope)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(part), sqlc.arg(occurred_at), sqlc.arg(envelope));

-- name: AppendEvents :exec
-- A transaction's events in one statement (one element per event in each array).
INSERT INTO event_outbox (event_id, type, part, occurred_at, envelope)
SELECT unnest(sqlc.arg(event_ids)::uuid[]), unnest(sqlc.arg(types)::text[]), unnest(sqlc.arg(parts)::smallint[]),
       unnest(sqlc.arg(occurred_ats)::timestamptz[]), unnest(sqlc.arg(envelopes)::text[]);

-- name: TryLockPart :one
-- Held until the transaction ends: one relay at a time per part, so a subject's events are
-- published in order while several instances share the parts. An advisory lock, not a row
-- lock: the relay's transaction takes no transaction id until it moves the mark, so it holds
-- back no one's reading while it publishes. Advisory locks are the database's, not the
-- schema's: the key names the schema (its first half) and the part (its second), so that
-- services in other schemas of the same database (tests run so) never wait for this one's.
SELECT pg_try_advisory_xact_lock(hashtext('userservice events ' || current_schema()), sqlc.arg(part)::int);

-- name: TryLockParts :many
-- TryLockPart of every part at once: the parts this relay holds until its transaction ends
-- (those another relay holds are left to it).
SELECT p::smallint AS part
FROM generate_series(0, sqlc.arg(parts)::int - 1) AS p
WHERE pg_try_advisory_xact_lock(hashtext('userservice events ' || current_schema()), p);

-- name: ClaimPendingParts :many
-- The events of the parts after each part's mark, oldest first, of transactions older than the
-- oldest one running (see the migration: nothing can appear before them later): one scan of the
-- primary key from the lowest of the marks, cut at lim, so that each part's events are a prefix
-- of what it has pending. Run after TryLockParts, in a statement of its own: its snapshot then
-- includes the commit of the relay that held a part before (a statement that locked and read at
-- once would read the marks with the snapshot it started with, from before that commit, and
-- publish again).
SELECT e.part, e.xid, e.event_id, e.envelope
FROM event_outbox AS e
JOIN event_relay AS r ON r.part = e.part
WHERE r.part = ANY(sqlc.arg(parts)::smallint[])
  AND (e.xid, e.event_id) > (r.last_xid, r.last_event)
  AND (e.xid, e.event_id) > (SELECT m.last_xid, m.last_event FROM event_relay AS m
                             WHERE m.part = ANY(sqlc.arg(parts)::smallint[])
                             ORDER BY m.last_xid, m.last_event LIMIT 1)
  AND e.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
ORDER BY e.xid, e.event_id
LIMIT sqlc.arg(lim)::bigint;

-- name: MoveMarks :exec
-- Each part's mark past its last published event (one element per part in each array).
UPDATE event_relay AS r
SET last_xid = m.last_xid, last_event = m.last_event
FROM (SELECT unnest(sqlc.arg(parts)::smallint[]) AS part, unnest(sqlc.arg(last_xids)::bigint[]) AS last_xid,
             unnest(sqlc.arg(last_events)::uuid[]) AS last_event) AS m
WHERE r.part = m.part;

-- name: PruneDelivered :execrows
-- Events older than the retention period that their part's relay has published.
DELETE FROM event_outbox o
USING event_relay r
WHERE o.part = r.part AND o.occurred_at < sqlc.arg(before)
  AND (o.xid, o.event_id) <= (r.last_xid, r.last_event);

-- name: PruneProcessed :exec
DELETE FROM event_processed WHERE processed_at < sqlc.arg(before);

-- name: MarkProcessed :execrows
INSERT INTO event_processed (handler, event_id, processed_at)
VALUES (sqlc.arg(handler), sqlc.arg(event_id), sqlc.arg(processed_at))
ON CONFLICT DO NOTHING;

-- name: MarkProcessedAll :many
-- MarkProcessed of several events in one statement: returns the ids recorded now, that is the
-- events the handler had not processed before (each once, however often it is given).
INSERT INTO event_processed (handler, event_id, processed_at)
SELECT sqlc.arg(handler)::text, unnest(sqlc.arg(event_ids)::uuid[]), sqlc.arg(processed_at)::timestamptz
ON CONFLICT DO NOTHING
RETURNING event_id;

-- name: AddDeadLetter :exec
INSERT INTO event_dead_letters (handler, event_id, envelope, error, attempts, failed_at)
VALUES (sqlc.arg(handler), sqlc.arg(event_id), sqlc.arg(envelope), sqlc.arg(error), sqlc.arg(attempts), sqlc.arg(failed_at))
ON CONFLICT (handler, event_id) DO UPDATE
SET error = excluded.error, attempts = excluded.attempts, failed_at = excluded.failed_at;

-- name: ListDeadLetters :many
SELECT handler, event_id, envelope, error, attempts, failed_at
FROM event_dead_letters
ORDER BY failed_at, handler, event_id
LIMIT sqlc.arg(lim)::bigint;

-- name: Feed :many
-- Events after the cursor in the order of the relay, of finished transactions only (see
-- ClaimPending): a reader's next page never holds an event that belonged before its cursor.
SELECT xid, event_id, envelope
FROM event_outbox
WHERE (xid, event_id) > (sqlc.arg(after_xid)::bigint, sqlc.arg(after_event)::uuid)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
  AND (sqlc.arg(type)::text = '' OR type = sqlc.arg(type)::text)
ORDER BY xid, event_id
LIMIT sqlc.arg(lim)::bigint;

-- name: Backlog :one
-- Events not yet published, and when the oldest of them happened.
-- One range scan of the primary key from the lowest mark, whatever the number of parts.
SELECT count(*) AS pending, coalesce(min(o.occurred_at), 'epoch')::timestamptz AS oldest
FROM event_outbox o
JOIN event_relay r ON r.part = o.part
WHERE o.xid >= (SELECT min(last_xid) FROM event_relay)
  AND (o.xid, o.event_id) > (r.last_xid, r.last_event);

-- name: GetDeadLetter :one
SELECT handler, event_id, envelope, error, attempts, failed_at
FROM event_dead_letters
WHERE handler = sqlc.arg(handler) AND event_id = sqlc.arg(event_id);

-- name: DeleteDeadLetter :exec
DELETE FROM event_dead_letters WHERE handler = sqlc.arg(handler) AND event_id = sqlc.arg(event_id);

-- name: ListSubscriptions :many
SELECT handler FROM event_subscriptions;

-- name: AddSubscription :exec
INSERT INTO event_subscriptions (handler, started_at)
VALUES (sqlc.arg(handler), sqlc.arg(started_at))
ON CONFLICT (handler) DO NOTHING;
