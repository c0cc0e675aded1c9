-- Queries of the events platform on SQLite; sqlc generates platform/events/litestore.

-- name: AppendEvent :exec
INSERT INTO event_outbox (event_id, type, subject, part, occurred_at, envelope)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(subject), sqlc.arg(part), sqlc.arg(occurred_at), sqlc.arg(envelope));

-- name: ClaimPending :many
SELECT seq, envelope
FROM event_outbox
WHERE delivered_at IS NULL
ORDER BY seq
LIMIT sqlc.arg(lim);

-- name: ReserveFeedPositions :one
UPDATE event_feed SET last_position = last_position + sqlc.arg(n) WHERE id = 1
RETURNING last_position;

-- name: MarkDelivered :exec
UPDATE event_outbox SET delivered_at = sqlc.arg(delivered_at), position = sqlc.arg(position)
WHERE seq = sqlc.arg(seq);

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
LIMIT sqlc.arg(lim);

-- name: Feed :many
SELECT position, envelope
FROM event_outbox
WHERE position > CAST(sqlc.arg(after) AS INTEGER) AND (CAST(sqlc.arg(type) AS TEXT) = '' OR type = CAST(sqlc.arg(type) AS TEXT))
ORDER BY position
LIMIT sqlc.arg(lim);

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
