-- name: DeleteToken :exec
DELETE FROM mail_tokens WHERE token_hash = sqlc.arg(token_hash);

-- name: UseToken :one
-- Consumes a token, once: of two concurrent uses only one finds used_at NULL.
UPDATE mail_tokens
SET used_at = sqlc.arg(now)
WHERE token_hash = sqlc.arg(token_hash) AND purpose = sqlc.arg(purpose)
  AND used_at IS NULL AND expires_at > sqlc.arg(now)
RETURNING user_id, email;

-- name: ReleaseToken :exec
-- Gives back a token this use consumed (used_at tells uses apart), when what it proves failed.
UPDATE mail_tokens
SET used_at = NULL
WHERE token_hash = sqlc.arg(token_hash) AND purpose = sqlc.arg(purpose) AND used_at = sqlc.arg(used_at);

-- name: DeleteTokensOf :exec
DELETE FROM mail_tokens WHERE user_id = sqlc.arg(user_id);

-- name: DeleteJobsOf :exec
DELETE FROM mail_jobs WHERE user_id = sqlc.arg(user_id);

-- name: DeleteStaleTokens :exec
-- Tokens past their expiry, used or not, prove nothing any more.
DELETE FROM mail_tokens WHERE expires_at <= sqlc.arg(now);

-- name: InsertJob :exec
INSERT INTO mail_jobs (job_id, purpose, user_id, email, request_id, created_at, next_attempt_at)
VALUES (sqlc.arg(job_id), sqlc.arg(purpose), sqlc.arg(user_id), sqlc.arg(email), sqlc.arg(request_id),
        sqlc.arg(created_at), sqlc.arg(next_attempt_at));

-- name: InsertJobs :exec
-- A relay batch's jobs in one statement (one element per job in each array); a job is due when
-- it is made.
INSERT INTO mail_jobs (job_id, purpose, user_id, email, request_id, created_at, next_attempt_at)
SELECT unnest(sqlc.arg(job_ids)::uuid[]), unnest(sqlc.arg(purposes)::text[]), unnest(sqlc.arg(user_ids)::uuid[]),
       unnest(sqlc.arg(emails)::text[]), unnest(sqlc.arg(request_ids)::text[]), unnest(sqlc.arg(created_ats)::timestamptz[]),
       unnest(sqlc.arg(created_ats)::timestamptz[]);

-- name: ClaimJobs :many
-- Leases up to lim of the most overdue jobs until lease_until: no other sender takes them
-- meanwhile (SKIP LOCKED: concurrent senders take different ones), and if this one dies the
-- lease runs out and another does.
UPDATE mail_jobs
SET next_attempt_at = sqlc.arg(lease_until), attempts = attempts + 1
WHERE job_id IN (SELECT due.job_id FROM mail_jobs AS due
                 WHERE due.next_attempt_at <= sqlc.arg(now)
                 ORDER BY due.next_attempt_at
                 LIMIT sqlc.arg(lim) FOR UPDATE SKIP LOCKED)
RETURNING job_id, purpose, user_id, email, request_id, created_at, attempts;

-- name: RetryJob :exec
UPDATE mail_jobs
SET next_attempt_at = sqlc.arg(next_attempt_at), last_error = sqlc.arg(last_error)
WHERE job_id = sqlc.arg(job_id);

-- name: DeleteJob :exec
DELETE FROM mail_jobs WHERE job_id = sqlc.arg(job_id);

-- name: Backlog :one
SELECT count(*) AS jobs FROM mail_jobs;

-- name: InsertTokens :exec
-- A batch's tokens in one statement.
INSERT INTO mail_tokens (token_hash, purpose, user_id, email, created_at, expires_at)
SELECT unnest(sqlc.arg(token_hashes)::bytea[]), unnest(sqlc.arg(purposes)::text[]), unnest(sqlc.arg(user_ids)::uuid[]),
       unnest(sqlc.arg(emails)::text[]), unnest(sqlc.arg(created_ats)::timestamptz[]), unnest(sqlc.arg(expires_ats)::timestamptz[]);

-- name: DeleteOlderTokensOf :exec
-- Sent tokens void their users' older ones of their purpose: only the latest mail's link works.
-- Older by creation, not by the order the sends are recorded in: a mail sent before another
-- may be recorded after it, and must not void the newer link.
DELETE FROM mail_tokens AS t
USING (SELECT unnest(sqlc.arg(user_ids)::uuid[]) AS user_id, unnest(sqlc.arg(purposes)::text[]) AS purpose,
              unnest(sqlc.arg(created_ats)::timestamptz[]) AS created_at) AS sent
WHERE t.user_id = sent.user_id AND t.purpose = sent.purpose AND t.created_at < sent.created_at;

-- name: DeleteJobs :exec
DELETE FROM mail_jobs WHERE job_id = ANY(sqlc.arg(job_ids)::uuid[]);
