-- name: InsertUser :exec
INSERT INTO users (user_id, username, email, is_active, role, password_hash, created_at, updated_at)
VALUES (sqlc.arg(user_id), sqlc.arg(username), sqlc.arg(email), sqlc.arg(is_active),
        sqlc.arg(role), sqlc.narg(password_hash), sqlc.arg(created_at), sqlc.arg(updated_at));

-- name: GetUserByID :one
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE user_id = sqlc.arg(user_id);

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
WHERE (sqlc.narg(is_active) IS NULL OR is_active = sqlc.narg(is_active))
ORDER BY created_at, user_id
LIMIT sqlc.arg(lim);

-- Row values infer the wrong types in SQLite, so the keyset condition is spelled out.
-- name: ListUsersAfter :many
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash
FROM users
WHERE (created_at > sqlc.arg(after_created_at)
       OR (created_at = sqlc.arg(after_created_at) AND user_id > sqlc.arg(after_user_id)))
  AND (sqlc.narg(is_active) IS NULL OR is_active = sqlc.narg(is_active))
ORDER BY created_at, user_id
LIMIT sqlc.arg(lim);

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
