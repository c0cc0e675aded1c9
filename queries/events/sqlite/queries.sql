-- Queries of the events platform on SQLite; sqlc generates platform/events/litestore.

-- name: AppendEvent :exec
INSERT INTO event_outbox (event_id, type, part, occurred_at, envelope)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(part), sqlc.arg(occurred_at), sqlc.arg(envelope));

-- name: ClaimPending :many
-- The events after the relay's mark, oldest first (one writer: seq order is commit order).
-- SQLite has one part, 0.
SELECT o.seq, o.envelope
FROM event_outbox o, event_relay r
WHERE r.part = 0 AND o.part = 0 AND o.seq > r.last_seq
ORDER BY o.seq
LIMIT sqlc.arg(lim);

-- name: MoveMark :exec
UPDATE event_relay SET last_seq = sqlc.arg(last_seq) WHERE part = 0;

-- name: PruneDelivered :execrows
DELETE FROM event_outbox
WHERE occurred_at < sqlc.arg(before) AND seq <= (SELECT last_seq FROM event_relay WHERE part = 0);

-- name: PruneProcessed :exec
DELETE FROM event_processed WHERE processed_at < sqlc.arg(before);

-- name: MarkProcessed :execrows
INSERT INTO event_processed (handler, event_id, processed_at)
VALUES (sqlc.arg(handler), sqlc.arg(event_id), sqlc.arg(processed_at))
ON CONFLICT DO NOTHING;

-- name: AddDeadLetter :exec
INSERT INTO event_dead_letters (handler, event_id, envelope, error, attempts, failed_at)
VALUES (sqlc.arg(handler), sqlc.arg(event_id), sqlc.arg(envelope), sqlc.arg(error), sqlc.arg(attempts), sqlc.arg(failed_at))
ON CONFLICT (handler, event_id) DO UPDATE
SET error = excluded.error, attempts = excluded.attempts, failed_at = excluded.failed_at;

-- name: ListDeadLetters :many
SELECT handler, event_id, envelope, error, attempts, failed_at
FROM event_dead_letters
ORDER BY failed_at, handler, event_id
LIMIT sqlc.arg(lim);

-- name: Feed :many
SELECT seq, envelope
FROM event_outbox
WHERE seq > CAST(sqlc.arg(after) AS INTEGER) AND (CAST(sqlc.arg(type) AS TEXT) = '' OR type = CAST(sqlc.arg(type) AS TEXT))
ORDER BY seq
LIMIT sqlc.arg(lim);

-- name: CountPending :one
SELECT count(*) FROM event_outbox WHERE part = 0 AND seq > (SELECT last_seq FROM event_relay WHERE part = 0);

-- name: OldestPending :one
SELECT occurred_at FROM event_outbox
WHERE part = 0 AND seq > (SELECT last_seq FROM event_relay WHERE part = 0)
ORDER BY seq LIMIT 1;

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
