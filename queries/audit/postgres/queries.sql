-- Queries of the audit module on PostgreSQL; sqlc generates modules/audit/adapters/postgres/pgstore.

-- name: InsertAuditEvent :exec
INSERT INTO audit_events (event_id, type, actor, target, request_id, changed, occurred_at)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(actor), sqlc.arg(target), sqlc.arg(request_id), sqlc.arg(changed), sqlc.arg(occurred_at))
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
