-- Queries of the audit module on PostgreSQL; sqlc generates modules/audit/internal/adapters/postgres/pgstore.

-- name: InsertAuditEvent :exec
INSERT INTO audit_events (event_id, type, actor, target, request_id, changed, occurred_at)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(actor), sqlc.arg(target), sqlc.arg(request_id), sqlc.arg(changed), sqlc.arg(occurred_at))
ON CONFLICT (event_id) DO NOTHING;

-- name: InsertAuditEvents :exec
-- A relay's batch of entries in one statement: one plan and one executor run for all the rows.
-- The arrays have one element per entry (set-returning functions in a select list advance
-- together).
INSERT INTO audit_events (event_id, type, actor, target, request_id, changed, occurred_at)
SELECT unnest(sqlc.arg(event_ids)::uuid[]), unnest(sqlc.arg(types)::text[]), unnest(sqlc.arg(actors)::text[]),
       unnest(sqlc.arg(targets)::text[]), unnest(sqlc.arg(request_ids)::text[]), unnest(sqlc.arg(changed)::text[]),
       unnest(sqlc.arg(occurred_ats)::timestamptz[])
ON CONFLICT (event_id) DO NOTHING;

-- name: ListAuditEvents :many
-- Newest first, before the cursor (an event id; all ff starts at the newest), each filter
-- applied unless empty.
SELECT event_id, type, actor, target, request_id, changed, occurred_at
FROM audit_events
WHERE event_id < sqlc.arg(before)
  AND (sqlc.arg(target)::text = '' OR target = sqlc.arg(target)::text)
  AND (sqlc.arg(actor)::text = '' OR actor = sqlc.arg(actor)::text)
  AND (sqlc.arg(type)::text = '' OR type = sqlc.arg(type)::text)
ORDER BY event_id DESC
LIMIT sqlc.arg(lim)::bigint;
