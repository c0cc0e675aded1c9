-- Queries of the events platform on PostgreSQL; sqlc generates platform/events/pgstore.

-- name: AppendEvent :exec
INSERT INTO event_outbox (event_id, type, subject, part, occurred_at, envelope)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(subject), sqlc.arg(part), sqlc.arg(occurred_at), sqlc.arg(envelope));

-- name: TryLockPart :one
-- Held until the transaction ends: one relay at a time per part, so a subject's events are
-- published in order while several instances share the parts.
SELECT pg_try_advisory_xact_lock(sqlc.arg(lock_key)::bigint);

-- name: ClaimPending :many
SELECT seq, envelope
FROM event_outbox
WHERE part = sqlc.arg(part) AND delivered_at IS NULL
ORDER BY seq
LIMIT sqlc.arg(lim)::bigint
FOR UPDATE SKIP LOCKED;

-- name: ReserveFeedPositions :one
UPDATE event_feed SET last_position = last_position + sqlc.arg(n)::bigint WHERE id = 1
RETURNING last_position;

-- name: MarkDelivered :exec
UPDATE event_outbox e
SET delivered_at = sqlc.arg(delivered_at), position = sqlc.arg(first_position)::bigint + t.ord - 1
FROM unnest(sqlc.arg(seqs)::bigint[]) WITH ORDINALITY AS t(seq, ord)
WHERE e.seq = t.seq;

-- name: PruneDelivered :execrows
DELETE FROM event_outbox WHERE delivered_at < sqlc.arg(before);

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
LIMIT sqlc.arg(lim)::bigint;

-- name: Feed :many
SELECT position, envelope
FROM event_outbox
WHERE position > sqlc.arg(after)::bigint AND (sqlc.arg(type)::text = '' OR type = sqlc.arg(type)::text)
ORDER BY position
LIMIT sqlc.arg(lim)::bigint;

-- name: CountPending :one
SELECT count(*) FROM event_outbox WHERE delivered_at IS NULL;

-- name: OldestPending :one
SELECT occurred_at FROM event_outbox WHERE delivered_at IS NULL ORDER BY seq LIMIT 1;

-- name: GetDeadLetter :one
SELECT handler, event_id, envelope, error, attempts, failed_at
FROM event_dead_letters
WHERE handler = sqlc.arg(handler) AND event_id = sqlc.arg(event_id);

-- name: DeleteDeadLetter :exec
DELETE FROM event_dead_letters WHERE handler = sqlc.arg(handler) AND event_id = sqlc.arg(event_id);
