-- name: InsertUser :exec
INSERT INTO users (user_id, username, email, is_active, role, password_hash, created_at, updated_at, email_verified_at)
VALUES (sqlc.arg(user_id), sqlc.arg(username), sqlc.arg(email), sqlc.arg(is_active),
        sqlc.arg(role), sqlc.narg(password_hash), sqlc.arg(created_at), sqlc.arg(updated_at), sqlc.narg(email_verified_at));

-- name: GetUserByID :one
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash, email_verified_at
FROM users
WHERE user_id = sqlc.arg(user_id);

-- name: GetUsersByIDs :many
-- A batch's users in one statement (the notifications sender reads a batch's accounts).
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash, email_verified_at
FROM users
WHERE user_id IN (sqlc.slice(user_ids));

-- name: GetCaller :one
-- An authenticated request's account, and when the session its token names expires, in whole
-- seconds since 1970 (0 if it is not the user's): one primary-key lookup each, one round trip.
SELECT sqlc.embed(users),
       COALESCE((SELECT CAST(strftime('%s', sessions.expires_at) AS INTEGER) FROM sessions
                 WHERE sessions.session_id = sqlc.arg(session_id) AND sessions.user_id = users.user_id), 0) AS session_expires
FROM users
WHERE users.user_id = sqlc.arg(user_id);

-- name: GetCallerAndUser :many
-- An authenticated read fetches its caller (is_caller, with its session as GetCaller checks
-- it) and its subject in one round trip. Two primary-key lookups, not IN (...): a generic plan
-- for IN over parameters is a bitmap scan, several times the cost of an index scan here. The
-- same id twice returns its row twice.
SELECT sqlc.embed(users),
       TRUE AS is_caller,
       COALESCE((SELECT CAST(strftime('%s', sessions.expires_at) AS INTEGER) FROM sessions
                 WHERE sessions.session_id = sqlc.arg(session_id) AND sessions.user_id = users.user_id), 0) AS session_expires
FROM users
WHERE users.user_id = sqlc.arg(caller_id)
UNION ALL
SELECT sqlc.embed(users), FALSE, 0
FROM users
WHERE users.user_id = sqlc.arg(user_id);

-- name: GetUserByEmail :one
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash, email_verified_at
FROM users
WHERE lower(email) = lower(sqlc.arg(email));

-- name: ListUsersFirst :many
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash, email_verified_at
FROM users
WHERE (sqlc.narg(is_active) IS NULL OR is_active = sqlc.narg(is_active))
ORDER BY created_at, user_id
LIMIT sqlc.arg(lim);

-- Row values infer the wrong types in SQLite, so the keyset condition is spelled out.
-- name: ListUsersAfter :many
SELECT user_id, username, email, is_active, role, created_at, updated_at, password_hash, email_verified_at
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
    email_verified_at = sqlc.narg(email_verified_at),
    updated_at = sqlc.arg(updated_at)
WHERE user_id = sqlc.arg(user_id);

-- name: DeleteUser :execrows
DELETE FROM users
WHERE user_id = sqlc.arg(user_id);

-- name: InsertSession :exec
INSERT INTO sessions (session_id, user_id, user_agent, client_addr, created_at, last_used_at, expires_at)
VALUES (sqlc.arg(session_id), sqlc.arg(user_id), sqlc.arg(user_agent), sqlc.arg(client_addr),
        sqlc.arg(created_at), sqlc.arg(last_used_at), sqlc.arg(expires_at));

-- name: InsertRefreshToken :exec
INSERT INTO refresh_tokens (token_hash, session_id, issued_at)
VALUES (sqlc.arg(token_hash), sqlc.arg(session_id), sqlc.arg(issued_at));

-- name: UseRefreshToken :one
-- Marks a refresh token used, once: of two concurrent uses of the same token, only one finds
-- used_at NULL and gets its session back.
UPDATE refresh_tokens
SET used_at = sqlc.arg(used_at)
WHERE token_hash = sqlc.arg(token_hash) AND used_at IS NULL
RETURNING session_id;

-- name: RefreshTokenSession :one
-- The session of a refresh token, used or not: what UseRefreshToken, finding it used, revokes.
SELECT session_id FROM refresh_tokens WHERE token_hash = sqlc.arg(token_hash);

-- name: GetSession :one
SELECT session_id, user_id, user_agent, client_addr, created_at, last_used_at, expires_at
FROM sessions
WHERE session_id = sqlc.arg(session_id);

-- name: UpdateSession :execrows
UPDATE sessions
SET user_agent = sqlc.arg(user_agent), client_addr = sqlc.arg(client_addr), last_used_at = sqlc.arg(last_used_at)
WHERE session_id = sqlc.arg(session_id);

-- name: ListSessions :many
SELECT session_id, user_id, user_agent, client_addr, created_at, last_used_at, expires_at
FROM sessions
WHERE user_id = sqlc.arg(user_id) AND expires_at > sqlc.arg(now)
ORDER BY created_at DESC, session_id DESC;

-- name: DeleteSession :execrows
DELETE FROM sessions
WHERE session_id = sqlc.arg(session_id) AND user_id = sqlc.arg(user_id);

-- name: DeleteSessions :many
DELETE FROM sessions
WHERE user_id = sqlc.arg(user_id) AND session_id <> sqlc.arg(except_id)
RETURNING session_id;

-- name: DeleteExpiredSessions :exec
DELETE FROM sessions
WHERE user_id = sqlc.arg(user_id) AND expires_at <= sqlc.arg(now);

-- name: OtherActiveAdminExists :one
-- SQLite runs one transaction at a time (one connection), so a count in the unit of work sees
-- every change committed before it and none can come between it and the commit.
SELECT EXISTS (
    SELECT 1 FROM users WHERE role = 'admin' AND is_active AND user_id <> sqlc.arg(user_id)
);
