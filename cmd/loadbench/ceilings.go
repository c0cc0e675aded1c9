package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/kv"
)

// unrelayedPart is the outbox part of the ceilings' events: one that no relay reads (the
// service's are 0 to events.Parts-1). A ceiling is the request's statements alone; the idle
// service next to it must not turn the ceiling's events into publishing and audit work of its
// own, competing with the ceiling's writers. (What the measured requests' events cost the
// relay and the consumers is the service's to bear, and counts.)
const unrelayedPart = int16(events.Parts)

// registerWithEvent runs what registering runs: the user's INSERT and the outbox's, atomically
// (one statement on PostgreSQL, as the service sends it; a transaction on SQLite).
func (d *database) registerWithEvent(ctx context.Context, username, email string) error {
	id, now := uuid.Must(uuid.NewV7()), time.Now().UTC()
	env := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"userservice/users","type":%q,"subject":%q,"time":%q,"datacontenttype":"application/json","data":{"user_id":%[3]q,"username":%q,"email":%q}}`,
		uuid.Must(uuid.NewV7()), userevents.TypeRegistered, id.String(), now.Format(time.RFC3339Nano), username, email)
	if d.pool != nil {
		_, err := d.pool.Exec(ctx, d.stmts["InsertUserWithEvents"], pgtype.UUID{Bytes: id, Valid: true}, username, email, true, "user", nil, now, now, nil,
			[]pgtype.UUID{{Bytes: uuid.Must(uuid.NewV7()), Valid: true}}, []string{userevents.TypeRegistered}, []int16{unrelayedPart}, []time.Time{now}, []string{env})
		return err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, d.stmts["InsertUser"], id.String(), username, email, true, "user", nil, now, now, nil); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.stmts["AppendEvent"], uuid.Must(uuid.NewV7()).String(), userevents.TypeRegistered, unrelayedPart, now, env); err != nil {
		return err
	}
	return tx.Commit()
}

// dropCeilingEvents deletes the events a ceiling wrote (to unrelayedPart). Left in the
// outbox, they would be scanned past by every poll of the idle service's relay for the rest of
// the run, during the next ceilings and workloads too: work that only the benchmark made.
func (d *database) dropCeilingEvents(ctx context.Context) error {
	var err error
	if d.pool != nil {
		_, err = d.pool.Exec(ctx, "DELETE FROM event_outbox WHERE part = $1", unrelayedPart)
	} else {
		_, err = d.sql.ExecContext(ctx, "DELETE FROM event_outbox WHERE part = ?", unrelayedPart)
	}
	if err != nil {
		return fmt.Errorf("drop the ceiling's events: %w", err)
	}
	return nil
}

// changeWithEvent runs, on PostgreSQL, what the service runs to change a user and record the
// event: in a transaction, the row read for update, the update, the outbox's insert.
func (d *database) changeWithEvent(ctx context.Context, id uuid.UUID, typ string, active bool, email string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := d.runPG(ctx, tx, "GetUserForUpdate", id); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := d.runPG(ctx, tx, "UpdateUser", "n"+strings.ReplaceAll(id.String(), "-", ""), email, active, "user", nil, nil, now, id); err != nil {
			return err
		}
		env := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"userservice/users","type":%q,"subject":%q,"time":%q,"datacontenttype":"application/json","data":{"user_id":%[3]q}}`,
			uuid.Must(uuid.NewV7()), typ, id.String(), now.Format(time.RFC3339Nano))
		return d.runPG(ctx, tx, "AppendEvent", uuid.Must(uuid.NewV7()), typ, unrelayedPart, now, env)
	})
}

// redisHit returns the ceiling of the cache's hit: one MGET of three keys (the caller, their
// session, the user read), as GET /users/{id} runs it, on the Redis at url.
func redisHit(ctx context.Context, url string) (op, error) {
	rdb, err := kv.Open(url)
	if err != nil {
		return nil, err
	}
	keys := []string{"loadbench:hit:caller", "loadbench:hit:session", "loadbench:hit:user"}
	for _, k := range keys {
		// A user's cached form is about 300 bytes of JSON.
		if err := rdb.Set(ctx, k, strings.Repeat("x", 300), time.Hour).Err(); err != nil {
			return nil, fmt.Errorf("redis %s: %w", url, err)
		}
	}
	return func(int) error { return rdb.MGet(ctx, keys...).Err() }, nil
}
