-- Queries of the audit module on SQLite; sqlc generates modules/audit/internal/adapters/sqlite/litestore.

-- name: InsertAuditEvent :exec
INSERT INTO audit_events (event_id, type, actor, target, request_id, changed, occurred_at)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(actor), sqlc.arg(target), sqlc.arg(request_id), sqlc.arg(changed), sqlc.arg(occurred_at))
ON CONFLICT (event_id) DO NOTHING;

-- name: ListAuditEvents :many
SELECT event_id, type, actor, target, request_id, changed, occurred_at
FROM audit_events
WHERE event_id < sqlc.arg(before)
  AND (CAST(sqlc.arg(target) AS TEXT) = '' OR target = CAST(sqlc.arg(target) AS TEXT))
  AND (CAST(sqlc.arg(actor) AS TEXT) = '' OR actor = CAST(sqlc.arg(actor) AS TEXT))
  AND (CAST(sqlc.arg(type) AS TEXT) = '' OR type = CAST(sqlc.arg(type) AS TEXT))
ORDER BY event_id DESC
LIMIT sqlc.arg(lim);
