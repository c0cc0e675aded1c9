-- name: InsertUserWithEvents :exec
-- Registering, in one statement: the user, and its events in the platform's outbox (the table
-- of platform/events, whose events.PostgresRow gives each event's columns). One round trip
-- and one transaction: both or neither.
WITH inserted AS (
    INSERT INTO users (user_id, username, email, is_active, role, password_hash, created_at, updated_at)
    VALUES (sqlc.arg(user_id), sqlc.arg(username), sqlc.arg(email), sqlc.arg(is_active),
            sqlc.arg(role), sqlc.narg(password_hash), sqlc.arg(created_at), sqlc.arg(updated_at))
)
INSERT INTO event_outbox (event_id, type, part, occurred_at, envelope)
SELECT unnest(sqlc.arg(event_ids)::uuid[]), unnest(sqlc.arg(event_types)::text[]), unnest(sqlc.arg(event_parts)::smallint[]),
       unnest(sqlc.arg(event_times)::timestamptz[]), unnest(sqlc.arg(envelopes)::text[]);

-- name: InsertUser :exec
-- The user's INSERT alone: what registering ran before events, kept as make bench's baseline
-- (cmd/loadbench reads the statements from this file).
INSERT INTO users (user_id, username, email, is_active, role, password_hash, created_at, updated_at)
VALUES (sqlc.arg(user_id), sqlc.arg(username), sqlc.arg(email), sqlc.arg(is_active),
        sqlc.arg(role), sqlc.narg(password_hash), sqlc.arg(created_at), sqlc.arg(updated_at));

-- name: GetUserByID :one
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE user_id = sqlc.arg(user_id);

-- name: GetUserForUpdate :one
-- A read-modify-write (deactivate, activate, update, a new password) locks the row, so that it
-- knows exactly what it changed, and the event it records says so, whatever runs beside it.
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE user_id = sqlc.arg(user_id)
FOR UPDATE;

-- name: GetUserPair :many
-- An authenticated read fetches its caller and its subject in one round trip. Two primary-key
-- lookups, not IN (...): a generic plan for IN over parameters is a bitmap scan, several times
-- the cost of an index scan here. The same id twice returns its row twice.
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users AS caller
WHERE caller.user_id = sqlc.arg(first)
UNION ALL
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users AS subject
WHERE subject.user_id = sqlc.arg(second);

-- name: GetUserByEmail :one
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE lower(email) = lower(sqlc.arg(email));

-- name: ListUsersFirst :many
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE (sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active))
ORDER BY created_at, user_id
LIMIT sqlc.arg(lim)::bigint;

-- name: ListUsersAfter :many
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE (created_at, user_id) > (sqlc.arg(after_created_at), sqlc.arg(after_user_id)::uuid)
  AND (sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active))
ORDER BY created_at, user_id
LIMIT sqlc.arg(lim)::bigint;

-- name: UpdateUser :execrows
UPDATE users
SET username = sqlc.arg(username),
    email = sqlc.arg(email),
    is_active = sqlc.arg(is_active),
    role = sqlc.arg(role),
    password_hash = sqlc.narg(password_hash),
    updated_at = sqlc.arg(updated_at)
WHERE user_id = sqlc.arg(user_id);

-- name: DeleteUser :execrows
DELETE FROM users
WHERE user_id = sqlc.arg(user_id);

